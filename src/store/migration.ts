// What a versioned schema migration is, for both databases' lists (sqlite/migrations.ts and
// postgres/migrations.ts). A migration, once released, never changes: add a new one instead.

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}
