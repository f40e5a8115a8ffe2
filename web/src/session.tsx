/** Who is logged in (GET /me) and the catalog (accelerators, regions, hubs), loaded once. */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, type Accelerator, type Hub, type Region, type User } from './api';
import { feed } from './live';

interface Session {
  user: User | null | undefined; // undefined: still asking
  setUser: (u: User | null) => void;
  logout: () => Promise<void>;
}
interface Catalog {
  accelerators: Map<string, Accelerator>;
  regions: Map<string, Region>;
  hubs: Map<string, Hub>;
  error: unknown;
  ready: boolean;
}

const SessionCtx = createContext<Session | null>(null);
const CatalogCtx = createContext<Catalog | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUserState] = useState<User | null | undefined>(undefined);
  useEffect(() => {
    api.me().then(
      (r) => setUserState(r.user),
      (e: unknown) => {
        if (!(e instanceof ApiError) || e.status !== 401) console.warn('GET /me failed', e);
        setUserState(null);
      },
    );
  }, []);
  const setUser = useCallback((u: User | null) => {
    setUserState(u);
    feed.reconnect(); // the socket carries the session cookie of its handshake
  }, []);
  const logout = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      setUser(null);
    }
  }, [setUser]);
  const [acc, setAcc] = useState<Catalog>({ accelerators: new Map(), regions: new Map(), hubs: new Map(), error: undefined, ready: false });
  useEffect(() => {
    Promise.all([api.accelerators(), api.regions(), api.hubs()]).then(
      ([a, r, h]) =>
        setAcc({
          accelerators: new Map(a.items.map((x) => [x.id, x])),
          regions: new Map(r.items.map((x) => [x.id, x])),
          hubs: new Map(h.items.map((x) => [x.id, x])),
          error: undefined,
          ready: true,
        }),
      (error: unknown) => setAcc((c) => ({ ...c, error })),
    );
  }, []);
  const session = useMemo(() => ({ user, setUser, logout }), [user, setUser, logout]);
  return (
    <SessionCtx.Provider value={session}>
      <CatalogCtx.Provider value={acc}>{children}</CatalogCtx.Provider>
    </SessionCtx.Provider>
  );
}

export function useSession(): Session {
  const v = useContext(SessionCtx);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}

export function useCatalog(): Catalog {
  const v = useContext(CatalogCtx);
  if (!v) throw new Error('useCatalog outside SessionProvider');
  return v;
}
