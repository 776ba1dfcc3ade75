// Where the compiled writer-thread entry lives (built by global-setup.ts), for stores under test.

export const compiledWriterUrl = new URL('../../dist/store/sqlite-writer.worker.js', import.meta.url);
