// The page frame: header with the live state, the navigation between views, and the view of the
// current route in <main>. A 401 from anywhere replaces the view with the token prompt; an error
// while drawing a view is caught here and shown with a Retry, never as a blank page.

import { Component, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getToken, onUnauthorized, setToken } from './api/client';
import { liveFeed } from './live/feed';
import { OverviewView } from './overview/overview';
import { href, parseRoute, type Route } from './router';
import { ErrorAlert } from './ui/alert';
import { focusHeadingOnNextView, Heading } from './ui/heading';
import { LiveIndicator } from './ui/live-indicator';
import { ConversationsView } from './views/conversations';
import { DeadLettersView } from './views/dead-letters';
import { MessageView } from './views/message';
import { SearchView } from './views/search';
import { ThreadView } from './views/thread';
import { TokenPrompt } from './views/token';

class ViewBoundary extends Component<{ children: ComponentChildren }, { error: unknown }> {
  override state: { error: unknown } = { error: null };

  static override getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override render() {
    if (this.state.error === null) return this.props.children;
    return (
      <section class="view">
        <Heading>Something went wrong</Heading>
        <ErrorAlert error={this.state.error} what="Showing this view" onRetry={() => this.setState({ error: null })} />
      </section>
    );
  }
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'conversations':
      return <ConversationsView />;
    case 'thread':
      return <ThreadView from={route.from} to={route.to} />;
    case 'search':
      return <SearchView params={route.params} />;
    case 'message':
      return <MessageView id={route.id} />;
    case 'dead-letters':
      return <DeadLettersView />;
    case 'overview':
      return <OverviewView />;
    default:
      return (
        <section class="view">
          <Heading>Page not found</Heading>
          <p>
            Nothing is at this address. <a href={href.conversations()}>See the conversations</a>.
          </p>
        </section>
      );
  }
}

const NAV: readonly { label: string; href: string; views: readonly Route['view'][] }[] = [
  { label: 'Conversations', href: href.conversations(), views: ['conversations', 'thread'] },
  { label: 'Search', href: href.search(), views: ['search'] },
  { label: 'Dead letters', href: href.deadLetters(), views: ['dead-letters'] },
  { label: 'Overview', href: href.overview(), views: ['overview'] },
];

type Auth = 'ok' | 'needed' | 'refused';

export function App() {
  const [route, setRoute] = useState<Route>(() => parseRoute(window.location.hash));
  const [auth, setAuth] = useState<Auth>('ok');
  /** Bumped when a token is entered: the view is drawn afresh and loads again with it. */
  const [session, setSession] = useState(0);

  useEffect(() => {
    const onHashChange = (): void => {
      const next = parseRoute(window.location.hash);
      setRoute((current) => {
        // A new search stays on the search view (focus stays in its form); anything else is a new view.
        if (!(current.view === 'search' && next.view === 'search')) focusHeadingOnNextView();
        return next;
      });
    };
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, []);

  useEffect(() => {
    const off = onUnauthorized(() => {
      const hadToken = getToken() !== null;
      setToken(null);
      liveFeed.stop();
      // Several requests may fail at once: the first says whether a token was refused.
      setAuth((current) => (current !== 'ok' ? current : hadToken ? 'refused' : 'needed'));
    });
    liveFeed.start();
    return () => {
      off();
      liveFeed.stop();
    };
  }, []);

  const enterToken = (token: string): void => {
    setToken(token);
    focusHeadingOnNextView();
    setAuth('ok');
    setSession((n) => n + 1);
    liveFeed.start();
  };

  const routeKey = route.view === 'search' ? 'search' : `${route.view} ${JSON.stringify(route)}`;
  return (
    <>
      {/* A button, not a link to #main: the hash is the router's. */}
      <button type="button" class="skip-link" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="banner">
        <span class="title">webhook-inbox</span>
        <LiveIndicator />
        <nav aria-label="Views">
          <ul>
            {NAV.map((item) => (
              <li key={item.label}>
                <a href={item.href} aria-current={item.views.includes(route.view) ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {auth === 'ok' ? (
          <ViewBoundary key={`${routeKey} ${session}`}>
            <View route={route} />
          </ViewBoundary>
        ) : (
          <TokenPrompt refused={auth === 'refused'} onToken={enterToken} />
        )}
      </main>
    </>
  );
}
