// A store that keeps nothing: every message is "created" and every read is empty. It exists
// for the throughput benchmark's ceiling (the same server with storage taken out), never for use.

import type { IncomingMessage, InsertOutcome, MessagePage, MessageStore, Stats } from './store.js';

export class NoopStore implements MessageStore {
  async insertMany(messages: readonly IncomingMessage[]): Promise<InsertOutcome[]> {
    return messages.map(() => 'created');
  }
  async listMessages(): Promise<MessagePage> {
    return { data: [], total: 0, hasMore: false };
  }
  async stats(): Promise<Stats> {
    return { totalMessages: 0, sendersCount: 0, messagesPerSender: [], firstMessageTs: null, lastMessageTs: null };
  }
  async checkHealth(): Promise<void> {}
  async close(): Promise<void> {}
}
