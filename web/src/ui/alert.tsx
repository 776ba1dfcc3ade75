// What a view shows when the API fails or cannot be reached: what failed, in words, and a way to
// try again. Never a blank page.

import { ApiError } from '../api/client';

export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    switch (error.kind) {
      case 'network':
        return `The server cannot be reached. ${error.message}`;
      case 'unauthorized':
        return 'The API token is missing or was not accepted.';
      case 'malformed':
        return `The server's answer could not be read. ${error.message}`;
      default:
        return error.message;
    }
  }
  return error instanceof Error ? `Something went wrong: ${error.message}` : 'Something went wrong.';
}

export function ErrorAlert({ error, what, onRetry }: { error: unknown; what: string; onRetry: () => void }) {
  return (
    <div role="alert" class="alert">
      <p>
        <strong>{what} failed.</strong> {describeError(error)}
      </p>
      <button type="button" onClick={onRetry}>
        Retry
      </button>
    </div>
  );
}
