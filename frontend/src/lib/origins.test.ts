import { describe, expect, it } from 'vitest';
import { originErrorRow, originsFromRows } from './origins';

describe('originsFromRows', () => {
  it('trims, leaves out blank rows and remembers where each came from', () => {
    expect(originsFromRows(['', ' http://192.168.1.5:3000 ', '   ', 'vscode-webview://abc'])).toEqual({
      origins: ['http://192.168.1.5:3000', 'vscode-webview://abc'],
      rowOf: [1, 3],
    });
    expect(originsFromRows([])).toEqual({ origins: [], rowOf: [] });
  });
});

describe('originErrorRow', () => {
  const rowOf = [1, 3];
  it("finds the row of the server's allowed_origins[i]", () => {
    expect(originErrorRow('allowed_origins[0]', rowOf)).toBe(1);
    expect(originErrorRow('allowed_origins[1]', rowOf)).toBe(3);
  });
  it('is null for the list as a whole, another field, or an index it did not send', () => {
    expect(originErrorRow('allowed_origins', rowOf)).toBeNull();
    expect(originErrorRow('max_connections', rowOf)).toBeNull();
    expect(originErrorRow('allowed_origins[2]', rowOf)).toBeNull();
    expect(originErrorRow(null, rowOf)).toBeNull();
  });
});
