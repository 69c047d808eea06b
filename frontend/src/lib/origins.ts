// The allowed_origins editor: one origin a row. Pure helpers, tested in
// origins.test.ts.

/**
 * The origins to send for the editor's rows: each trimmed, blank rows left
 * out. rowOf[i] is the row origins[i] came from, so that the server's error
 * for allowed_origins[i] shows at the row the user typed it in.
 */
export function originsFromRows(rows: readonly string[]): { origins: string[]; rowOf: number[] } {
  const origins: string[] = [];
  const rowOf: number[] = [];
  rows.forEach((r, i) => {
    const o = r.trim();
    if (!o) return;
    origins.push(o);
    rowOf.push(i);
  });
  return { origins, rowOf };
}

/**
 * The row a server error's param points at ("allowed_origins[2]"), or null
 * when it names the list as a whole or another field.
 */
export function originErrorRow(param: string | null | undefined, rowOf: readonly number[]): number | null {
  const m = /^allowed_origins\[(\d+)\]$/.exec(param ?? '');
  if (!m) return null;
  return rowOf[Number(m[1])] ?? null;
}
