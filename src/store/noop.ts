// A store that keeps nothing: every message and status is "created" and every read is empty. It
// exists for the throughput benchmark's ceiling (the same server with storage taken out), never for use.

import type { ExportChunk } from './export-format.js';
import type {
  BucketCount,
  ConversationPage,
  DeadLetterPage,
  Delivery,
  DeliveryOutcome,
  FeedEvent,
  FeedHead,
  FeedJson,
  IncomingMessage,
  InsertOutcome,
  MessageDetail,
  MessagePage,
  MessageStore,
  Removal,
  Stats,
  StoredMessage,
} from './store.js';

const NOTHING: Removal = { messages: 0, statuses: 0, deadLetters: 0 };

export class NoopStore implements MessageStore {
  async insertMany(messages: readonly IncomingMessage[]): Promise<InsertOutcome[]> {
    return messages.map(() => 'created');
  }
  async storeDelivery(delivery: Delivery): Promise<DeliveryOutcome> {
    return {
      messages: delivery.messages.map(() => 'created'),
      statuses: delivery.statuses.map(() => 'created'),
      deadLetters: delivery.deadLetters.map(() => 'created'),
    };
  }
  async listMessages(): Promise<MessagePage> {
    return { data: [], total: 0, hasMore: false };
  }
  async listConversations(): Promise<ConversationPage> {
    return { data: [], total: 0, hasMore: false };
  }
  async timeseries(): Promise<BucketCount[]> {
    return [];
  }
  async readFeed(): Promise<FeedEvent[]> {
    return [];
  }
  async readFeedJson(): Promise<FeedJson> {
    return { items: '', last: null };
  }
  async feedHead(): Promise<FeedHead> {
    return { position: 0, receivedAt: null };
  }
  async getMessage(): Promise<MessageDetail | null> {
    return null;
  }
  async listDeadLetters(): Promise<DeadLetterPage> {
    return { data: [], total: 0 };
  }
  async stats(): Promise<Stats> {
    return { totalMessages: 0, sendersCount: 0, messagesPerSender: [], firstMessageTs: null, lastMessageTs: null };
  }
  async exportMessages(): Promise<StoredMessage[]> {
    return [];
  }
  async exportChunk(): Promise<ExportChunk> {
    return { bytes: new Uint8Array(0), rows: 0, last: null };
  }
  async importMessages(messages: readonly IncomingMessage[]): Promise<InsertOutcome[]> {
    return messages.map(() => 'created');
  }
  async eraseMessage(): Promise<Removal> {
    return NOTHING;
  }
  async eraseConversation(): Promise<Removal> {
    return NOTHING;
  }
  async countPurge(): Promise<Removal> {
    return NOTHING;
  }
  async purge(): Promise<Removal | null> {
    return NOTHING;
  }
  async oldestReceivedAt(): Promise<string | null> {
    return null;
  }
  async checkHealth(): Promise<void> {}
  async close(): Promise<void> {}
}
