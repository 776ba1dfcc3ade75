// Dead letters: what arrived signed but could not be stored as a message or status (GET
// /dead-letters, oldest first, a page at a time), each with its reason and the item as received.

import { useState } from 'preact/hooks';
import { type DeadLetter, getJson } from '../api/client';
import { ErrorAlert } from '../ui/alert';
import { formatDateTime, formatNumber, plural } from '../ui/format';
import { Heading } from '../ui/heading';
import { useLiveEvents, useLoad } from '../ui/hooks';

const PAGE = 50;

export function DeadLettersView() {
  const [offset, setOffset] = useState(0);
  const [arrived, setArrived] = useState(0);
  // A dead letter arriving live reloads the page on view when it belongs on it (the last page).
  const [loaded, retry] = useLoad((signal) => getJson('/dead-letters', { query: { limit: PAGE, offset }, signal }), [offset]);
  useLiveEvents((event) => {
    if (event.type !== 'dead_letter.created') return;
    if (
      loaded.status === 'ok' &&
      loaded.data.offset + loaded.data.data.length >= loaded.data.total &&
      loaded.data.data.length < PAGE
    ) {
      retry();
    } else {
      setArrived((n) => n + 1);
    }
  });

  let body = null;
  if (loaded.status === 'loading') body = <p>Loading dead letters…</p>;
  else if (loaded.status === 'error') body = <ErrorAlert error={loaded.error} what="Loading dead letters" onRetry={retry} />;
  else {
    const { data, total } = loaded.data;
    const last = Math.max(0, Math.floor((total - 1) / PAGE) * PAGE);
    body = (
      <>
        <p class="summary">
          {total === 0
            ? 'No dead letters: everything signed that arrived was readable.'
            : `${plural(total, 'dead letter')}, oldest first; showing ${formatNumber(offset + 1)}–${formatNumber(offset + data.length)}.`}
          {arrived > 0 ? ` ${plural(arrived, 'more')} arrived since.` : ''}
        </p>
        {total > PAGE ? (
          <nav class="pager" aria-label="Dead letter pages">
            <button type="button" onClick={() => setOffset(0)} disabled={offset === 0}>
              Oldest
            </button>
            <button type="button" onClick={() => setOffset(Math.max(0, offset - PAGE))} disabled={offset === 0}>
              Previous
            </button>
            <button type="button" onClick={() => setOffset(offset + PAGE)} disabled={offset + PAGE >= total}>
              Next
            </button>
            <button type="button" onClick={() => setOffset(last)} disabled={offset >= last}>
              Newest
            </button>
          </nav>
        ) : null}
        {data.length > 0 ? (
          <div class="table-scroll">
            <table class="dead-letters">
              <caption>Dead letters</caption>
              <thead>
                <tr>
                  <th scope="col">Received</th>
                  <th scope="col">Source</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Item</th>
                </tr>
              </thead>
              <tbody>
                {data.map((d: DeadLetter) => (
                  <tr key={d.id}>
                    <td>
                      <time dateTime={d.received_at}>{formatDateTime(d.received_at)}</time>
                    </td>
                    <td>{d.source}</td>
                    <td>{d.kind}</td>
                    <td class="reason">{d.reason}</td>
                    <td>
                      {d.item_id !== null ? <p class="item-id">id {d.item_id}</p> : null}
                      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the item may scroll; keyboard users scroll it once focused. */}
                      <pre class="raw" tabIndex={0}>
                        {JSON.stringify(d.item, null, 2) ?? 'null'}
                      </pre>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </>
    );
  }

  return (
    <section class="view">
      <Heading>Dead letters</Heading>
      {body}
    </section>
  );
}
