import { ApiError } from './client';

/**
 * Splits an error into a field message (when the API named a field the
 * form has) and a general one.
 */
export function formError(err: unknown, fields: readonly string[]): { fields: Record<string, string>; general: string } {
  if (err instanceof ApiError) {
    const f = err.field;
    if (f && fields.includes(f)) {
      const where = err.param && err.param !== f ? `${err.param}: ` : '';
      return { fields: { [f]: where + err.fieldMessage }, general: '' };
    }
    return { fields: {}, general: err.message };
  }
  return { fields: {}, general: err instanceof Error ? err.message : String(err) };
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Copies text to the clipboard, with a fallback for pages without the async API. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}
