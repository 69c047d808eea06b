// Small display helpers shared by the screens.

/**
 * A size in bytes for a person, in binary units spelled as such (KiB, MiB,
 * GiB: 1024-based, as memory and the engine count them).
 */
export function bytes(n: number | null | undefined): string {
  if (!n || n <= 0) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i];
}

/** A number of MiB (a setting's unit) for a person: "512 MiB", "8 GiB", "1.5 GiB". */
export function mib(n: number | null | undefined): string {
  if (n === null || n === undefined || n < 0) return '—';
  if (n < 1024) return Math.round(n) + ' MiB';
  const g = n / 1024;
  return (Number.isInteger(g) ? g.toFixed(0) : g.toFixed(1)) + ' GiB';
}

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined || n < 0) return '—';
  if (n < 1000) return Math.round(n) + ' ms';
  return (n / 1000).toFixed(n < 10000 ? 2 : 1) + ' s';
}

export function time(iso: string): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  return d.toLocaleTimeString(undefined, { hour12: false });
}

/** How long ago an instant was, roughly: "just now", "40 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function ago(iso: string, now = Date.now()): string {
  const t = new Date(iso).getTime();
  if (isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function duration(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

export function num(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString();
}

/** A share as a whole percentage, capped at 100 for a bar's width. */
export function percent(part: number, whole: number): number {
  if (!(whole > 0) || !(part > 0)) return 0;
  return Math.min(100, Math.round((part / whole) * 100));
}
