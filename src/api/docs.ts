/**
 * /docs: a plain HTML page rendered from the OpenAPI document itself (no CDN, no scripts), so
 * the page can never disagree with the routes. The machine-readable document is /openapi.json.
 */
export const OPENAPI_INFO = {
  openapi: '3.0.3',
  info: {
    title: 'suanli exchange API',
    version: '1',
    description:
      'An open exchange for AI compute. Money: fen as decimal strings for ledger amounts, integers for prices. Times: ISO-8601 UTC. ' +
      'Errors: {"error":{"code","message","details"}}. Auth: the suanli_session cookie or `Authorization: Bearer sk_…`.',
  },
} as const;

interface Operation {
  readonly summary?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly security?: readonly unknown[];
  readonly parameters?: readonly { readonly name: string; readonly in: string; readonly required?: boolean }[];
  readonly requestBody?: { readonly content?: Record<string, { readonly schema?: unknown }> };
  readonly responses?: Record<string, { readonly description?: string }>;
}

interface Document {
  readonly paths?: Record<string, Record<string, Operation>>;
  readonly components?: { readonly schemas?: Record<string, unknown> };
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

const esc = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Top-level body fields, following one $ref. */
function bodyFields(doc: Document, op: Operation): string[] {
  let schema = op.requestBody?.content?.['application/json']?.schema as { $ref?: string; properties?: Record<string, unknown>; required?: string[] } | undefined;
  if (schema?.$ref) schema = doc.components?.schemas?.[schema.$ref.replace('#/components/schemas/', '')] as typeof schema;
  const required = new Set(schema?.required ?? []);
  return Object.keys(schema?.properties ?? {}).map((k) => (required.has(k) ? k : `${k}?`));
}

export function docsPage(document: object): string {
  const doc = document as Document; // the generator's own type, read loosely
  const rows: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const params = (op.parameters ?? []).map((p) => `${p.in === 'query' ? 'query ' : ''}${p.name}${p.required === true ? '' : '?'}`);
      const fields = bodyFields(doc, op);
      const who = op.security ? 'user' : 'anyone';
      const codes = Object.keys(op.responses ?? {}).join(' ');
      rows.push(
        `<tr><td class="m ${method}">${method.toUpperCase()}</td><td><code>${esc(path)}</code></td><td>${esc(op.summary ?? '')}` +
          `${params.length ? `<br><small>params: ${esc(params.join(', '))}</small>` : ''}` +
          `${fields.length ? `<br><small>body: ${esc(fields.join(', '))}</small>` : ''}</td><td>${who}</td><td><small>${esc(codes)}</small></td></tr>`,
      );
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>suanli API</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}.m{font-weight:bold}
.get{color:#1a7f37}.post{color:#0969da}.put,.patch{color:#9a6700}.delete{color:#cf222e}code{font-size:13px}</style></head>
<body><h1>${esc(OPENAPI_INFO.info.title)}</h1><p>${esc(OPENAPI_INFO.info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${OPENAPI_INFO.openapi}).</p>
<table><thead><tr><th>method</th><th>path</th><th>what</th><th>who</th><th>responses</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></body></html>`;
}
