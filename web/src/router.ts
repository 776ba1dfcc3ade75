// Routing by the URL's hash (#/c/+91…/+1…), so the server serves one page at `/` and every view
// can be bookmarked and reloaded.

export type Route =
  | { readonly view: 'conversations' }
  | { readonly view: 'thread'; readonly from: string; readonly to: string }
  | { readonly view: 'search'; readonly params: URLSearchParams }
  | { readonly view: 'message'; readonly id: string }
  | { readonly view: 'dead-letters' }
  | { readonly view: 'overview' }
  | { readonly view: 'not-found'; readonly hash: string };

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '');
  const [pathname = '', search = ''] = path.split(/\?(.*)/s, 2);
  const parts = pathname.split('/').filter((part, i) => i > 0 || part !== '');
  if (pathname === '' || pathname === '/') return { view: 'conversations' };
  if (parts[0] === 'c' && parts.length === 3) {
    const from = decode(parts[1] ?? '');
    const to = decode(parts[2] ?? '');
    if (from !== null && to !== null) return { view: 'thread', from, to };
  }
  if (parts[0] === 'm' && parts.length === 2) {
    const id = decode(parts[1] ?? '');
    if (id !== null && id !== '') return { view: 'message', id };
  }
  if (pathname === '/search') return { view: 'search', params: new URLSearchParams(search) };
  if (pathname === '/dead-letters') return { view: 'dead-letters' };
  if (pathname === '/overview') return { view: 'overview' };
  return { view: 'not-found', hash };
}

export const href = {
  conversations: (): string => '#/',
  thread: (from: string, to: string): string => `#/c/${encodeURIComponent(from)}/${encodeURIComponent(to)}`,
  message: (id: string): string => `#/m/${encodeURIComponent(id)}`,
  search: (params: Readonly<Record<string, string>> = {}): string => {
    const query = new URLSearchParams(Object.entries(params).filter(([, value]) => value !== '')).toString();
    return query === '' ? '#/search' : `#/search?${query}`;
  },
  deadLetters: (): string => '#/dead-letters',
  overview: (): string => '#/overview',
};
