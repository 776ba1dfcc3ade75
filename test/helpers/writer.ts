// Where the compiled thread entries live (built by global-setup.ts), for stores under test.

export const compiledWriterUrl = new URL('../../dist/store/sqlite/writer.worker.js', import.meta.url);
export const compiledReaderUrl = new URL('../../dist/store/sqlite/reader.worker.js', import.meta.url);
