// Generated from openapi.json by `npm run api-types` (openapi-typescript): do not edit.

export interface paths {
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This description of the API (OpenAPI 3.1) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The OpenAPI 3.1 document. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            [key: string]: unknown;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/webhook": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Meta's subscription handshake
         * @description Meta calls this when the webhook URL is saved in the App Dashboard; the challenge is echoed when the verify token is WHATSAPP_VERIFY_TOKEN (or its previous value).
         */
        get: {
            parameters: {
                query?: {
                    "hub.mode"?: "subscribe";
                    "hub.verify_token"?: string;
                    /** @example 1158201444 */
                    "hub.challenge"?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description hub.challenge, echoed as plain text. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "text/plain": string;
                    };
                };
                /** @description The token is wrong, WHATSAPP_VERIFY_TOKEN is not set, or a parameter is missing. */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        put?: never;
        /**
         * Receive a signed webhook
         * @description Three signed forms, told apart by their signature header: X-Signature (the core form), X-Hub-Signature-256 (WhatsApp Cloud API) and webhook-id/-timestamp/-signature (Standard Webhooks). The signature is checked on the raw body bytes before anything is parsed, whatever the Content-Type. Answered only after the commit.
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /**
                     * @description Standard Webhooks: the delivery id, part of what is signed.
                     * @example msg_1
                     */
                    "webhook-id"?: string;
                    /**
                     * @description Standard Webhooks: Unix seconds, part of what is signed; within WEBHOOK_TOLERANCE_SECONDS of now.
                     * @example 1736935200
                     */
                    "webhook-timestamp"?: string;
                    /** @description Reused as the request id in the log and echoed back when it is 1 to 128 visible ASCII characters. */
                    "x-request-id"?: string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        message_id: string;
                        from: string;
                        to: string;
                        /** @description YYYY-MM-DDTHH:MM:SS[.fraction]Z, a real UTC instant. */
                        ts: string;
                        /** @description At most 4096 characters (code points). */
                        text?: string | null;
                    } | {
                        /** @enum {string} */
                        object: "whatsapp_business_account";
                        /** @description Each entry's changes with field "messages" carry value.metadata.display_phone_number (the recipient), value.messages[] and value.statuses[]; every item is stored, or kept as a dead letter with its reason. */
                        entry: unknown[];
                    };
                };
            };
            responses: {
                /** @description Stored and durably committed (or already stored: a redelivery changes nothing). A WhatsApp envelope is acknowledged once its readable items are stored and the rest kept as dead letters. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {string} */
                            status: "ok";
                        };
                    };
                };
                /** @description The signature is missing, malformed or wrong ("invalid signature"), or a Standard Webhooks timestamp is outside the tolerance ("stale timestamp"). Nothing is stored. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description The request did not arrive within REQUEST_TIMEOUT_MS; the connection is closed. */
                408: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description The body is larger than MAX_BODY_BYTES. */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description Correctly signed, but not a valid message (or not a WhatsApp envelope). Nothing is stored. */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ValidationError"];
                    };
                };
                /** @description Retry later: the scheme's secret is not set, the database is unavailable, the server is overloaded or has no room for more bodies in flight (both with Retry-After), or it is shutting down. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/messages/{message_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One message with everything it keeps and its delivery statuses */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Up to 512 characters. */
                    message_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description A message with everything it keeps, and its delivery statuses. When only statuses are known (they usually describe messages the business sent), every message field is null. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            message_id: string;
                            from: string | null;
                            to: string | null;
                            ts: string | null;
                            text: string | null;
                            /**
                             * @description The provider's message type (text, image, location, …); null for a message of the core form.
                             * @example image
                             */
                            type: string | null;
                            /**
                             * @description How it arrived: "spec" (X-Signature), "standard" (Standard Webhooks) or "whatsapp". For messages stored before sources were kept: "whatsapp" when they have a type, else "spec". Null when only statuses are known.
                             * @enum {string|null}
                             */
                            source: "spec" | "standard" | "whatsapp" | null;
                            /**
                             * Format: date-time
                             * @description Server time (UTC, milliseconds) when the store took the message in. Null when only statuses are known.
                             */
                            received_at: string | null;
                            /**
                             * @description WhatsApp: the sender's profile name from the envelope's contacts (matched by wa_id); else null.
                             * @example Asha Rao
                             */
                            contact_name: string | null;
                            /** @description WhatsApp: the message_id this message answers (context.id); else null. */
                            reply_to: string | null;
                            /**
                             * @description WhatsApp: the envelope's metadata.phone_number_id, the id of the business number that received it (needed to answer through the Cloud API); else null.
                             * @example 106540352242922
                             */
                            phone_number_id: string | null;
                            /** @description What the provider sent about this message, as JSON: the signed body object (unknown fields included) for spec and standard, the messages[] item exactly as received for whatsapp. Null for messages stored before it was kept. */
                            raw: unknown;
                            /** @description Oldest first; sent < delivered < read < failed at one instant. */
                            statuses: components["schemas"]["StatusItem"][];
                        };
                    };
                };
                /** @description The id in the URL is not valid percent-encoded UTF-8. */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description API_TOKEN is set and the request has no valid `Authorization: Bearer` token; `WWW-Authenticate` says which. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description No message and no status has this id. */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description The database cannot serve now (or the server is overloaded or shutting down): retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /**
         * Erase one message, its delivery statuses and their feed events
         * @description In one transaction: the message, its statuses, their feed events and its text in every index are removed, and every count (/stats, /stats/timeseries, /conversations, every `total`) is adjusted. An id known only from its statuses has those erased. Logged (the id and how many rows, never the text) and counted in `erased_total`.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Up to 512 characters, percent-encoded. */
                    message_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Erased. */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description The id in the URL is not valid percent-encoded UTF-8. */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description ADMIN_TOKEN is set and the request has no `Authorization: Bearer` token that is ADMIN_TOKEN or ADMIN_TOKEN_PREVIOUS (API_TOKEN is not one); `WWW-Authenticate` says which. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description ADMIN_TOKEN is not set on the server: erasure through the API is disabled. */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description No message and no status has this id: nothing was erased. */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description The database cannot serve now (or the server is overloaded or shutting down): retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/messages": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Messages, filtered and paginated
         * @description Oldest first by the instant of `ts`, ties by `message_id` (or newest first with order=desc). Filters are AND-ed, and `total` is exact for every combination. Any parameter out of range, malformed, unknown-valued or repeated is a 422 naming it.
         */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    offset?: number;
                    /**
                     * @description Exact sender. A leading space is read as `+` (a raw `+` in a query string decodes to a space, and curl sends it raw).
                     * @example +919876543210
                     */
                    from?: string;
                    /**
                     * @description Exact recipient, `+` and 1 to 15 digits; a leading space is read as `+`, as for `from`.
                     * @example +14155550100
                     */
                    to?: string;
                    /**
                     * @description Exact provider message type (text, image, …). Messages of the core form have none and never match.
                     * @example image
                     */
                    type?: string;
                    /** @description Keeps messages at or after this instant: YYYY-MM-DDTHH:MM:SS[.fraction]Z, a real UTC instant. */
                    since?: string;
                    /** @description Keeps messages strictly before this instant (since/until windows tile): YYYY-MM-DDTHH:MM:SS[.fraction]Z, a real UTC instant. */
                    until?: string;
                    /** @description Case-insensitive substring of the text (Unicode-aware; %, _ and \ are literal). Empty: no filter. */
                    q?: string;
                    /** @description `asc`: oldest first (instant, then message_id). `desc`: newest first (both descending). */
                    order?: "asc" | "desc";
                    /**
                     * @description Keys to add to each item, comma-separated, any subset of: type, source, received_at, contact_name, reply_to, phone_number_id, raw. Without it, items have exactly the five core keys.
                     * @example type,contact_name,raw
                     */
                    include?: string;
                    /** @description Keyset pagination: empty for the first page, then each `next_cursor`, with the same order and filters (else 422). Not together with a non-zero offset. */
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description One page of messages in the order asked for, with the total that match. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            data: components["schemas"]["MessageItem"][];
                            /** @description Every message matching the filters, ignoring limit, offset and cursor. */
                            total: number;
                            /** @description As applied. */
                            limit: number;
                            /** @description As applied. */
                            offset: number;
                            /** @description Only when the request had a `cursor` parameter: pass it back as `cursor`, with the same order and filters, for the next page; null on the last page. */
                            next_cursor?: string | null;
                        };
                    };
                };
                /** @description API_TOKEN is set and the request has no valid `Authorization: Bearer` token; `WWW-Authenticate` says which. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description A parameter or the body is malformed; every failing field is named. */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ValidationError"];
                    };
                };
                /** @description The database cannot serve now (or the server is overloaded or shutting down): retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/messages/export": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Every matching message, oldest first, as NDJSON or CSV
         * @description Streams every message matching the filters (those of GET /messages), oldest first by the instant of `ts`, then `message_id`: every message committed before the request began is in it, once. Read from the database in chunks of up to 1000 messages (about a megabyte), each chunk only once the client has taken the one before, so a slow client slows the export and memory stays flat however many messages it holds. A bad parameter is a 422 before anything is sent. `Content-Disposition` names a file such as `messages-20250115T100000Z.ndjson`. If the database fails once the export has begun, the response is cut short (it never ends cleanly): a client should treat an export that does not end properly as incomplete.
         */
        get: {
            parameters: {
                query?: {
                    /** @description `ndjson`: one JSON object a line, each the GET /messages/{message_id} object without `statuses` (every key, `raw` included). `csv`: RFC 4180, a header row and one record a message. */
                    format?: "ndjson" | "csv";
                    /**
                     * @description Exact sender. A leading space is read as `+` (a raw `+` in a query string decodes to a space, and curl sends it raw).
                     * @example +919876543210
                     */
                    from?: string;
                    /**
                     * @description Exact recipient, `+` and 1 to 15 digits; a leading space is read as `+`, as for `from`.
                     * @example +14155550100
                     */
                    to?: string;
                    /**
                     * @description Exact provider message type (text, image, …). Messages of the core form have none and never match.
                     * @example image
                     */
                    type?: string;
                    /** @description Keeps messages at or after this instant: YYYY-MM-DDTHH:MM:SS[.fraction]Z, a real UTC instant. */
                    since?: string;
                    /** @description Keeps messages strictly before this instant (since/until windows tile): YYYY-MM-DDTHH:MM:SS[.fraction]Z, a real UTC instant. */
                    until?: string;
                    /** @description Case-insensitive substring of the text (Unicode-aware; %, _ and \ are literal). Empty: no filter. */
                    q?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The export, streamed (chunked transfer encoding). The media type follows `format`. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/x-ndjson": string;
                        "text/csv": string;
                    };
                };
                /** @description API_TOKEN is set and the request has no valid `Authorization: Bearer` token; `WWW-Authenticate` says which. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description A parameter or the body is malformed; every failing field is named. */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ValidationError"];
                    };
                };
                /** @description The database cannot serve now (or the server is overloaded or shutting down): retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/conversations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Conversations, most recent first
         * @description One item per (from, to) pair that has messages, kept up to date in the transaction that stores each message. Any parameter out of range, malformed or repeated is a 422 naming it.
         */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    /** @description Empty (or absent) for the first page, then each `next_cursor`, with the same filters (else 422). */
                    cursor?: string;
                    /**
                     * @description Exact sender; a leading space is read as `+`.
                     * @example +919876543210
                     */
                    from?: string;
                    /**
                     * @description Exact recipient, `+` and 1 to 15 digits; a leading space is read as `+`.
                     * @example +14155550100
                     */
                    to?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description One page of conversations, most recent first, with the total that match. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "data": [
                         *         {
                         *           "from": "+919876543210",
                         *           "to": "+14155550100",
                         *           "contact_name": "Asha",
                         *           "messages": 12,
                         *           "first_ts": "2025-01-10T09:00:00Z",
                         *           "last_ts": "2025-01-15T10:00:00Z",
                         *           "last_message": {
                         *             "message_id": "m9",
                         *             "ts": "2025-01-15T10:00:00Z",
                         *             "text": "Hello",
                         *             "type": "text"
                         *           }
                         *         }
                         *       ],
                         *       "total": 1,
                         *       "limit": 50,
                         *       "next_cursor": null
                         *     }
                         */
                        "application/json": {
                            /** @description Most recent first: last_ts instant descending, then from, then to. */
                            data: {
                                /** @example +919876543210 */
                                from: string;
                                /** @example +14155550100 */
                                to: string;
                                /**
                                 * @description The contact name of the latest message (by instant, then message_id) that has one; else null.
                                 * @example Asha
                                 */
                                contact_name: string | null;
                                /** @description Messages stored in this conversation. */
                                messages: number;
                                /**
                                 * @description The ts of its earliest message by instant.
                                 * @example 2025-01-10T09:00:00Z
                                 */
                                first_ts: string;
                                /**
                                 * @description The ts of last_message.
                                 * @example 2025-01-15T10:00:00Z
                                 */
                                last_ts: string;
                                /** @description The latest message by instant; ties: the greatest message_id. */
                                last_message: {
                                    /** @example m9 */
                                    message_id: string;
                                    /** @example 2025-01-15T10:00:00Z */
                                    ts: string;
                                    /** @example Hello */
                                    text: string | null;
                                    /**
                                     * @description The provider's message type (text, image, location, …); null for a message of the core form.
                                     * @example image
                                     */
                                    type: string | null;
                                };
                            }[];
                            /** @description Every conversation matching the filters, ignoring limit and cursor. */
                            total: number;
                            /** @description As applied. */
                            limit: number;
                            /** @description Pass it back as `cursor`, with the same filters, for the next page; null on the last page. */
                            next_cursor: string | null;
                        };
                    };
                };
                /** @description API_TOKEN is set and the request has no valid `Authorization: Bearer` token; `WWW-Authenticate` says which. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description A parameter or the body is malformed; every failing field is named. */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ValidationError"];
                    };
                };
                /** @description The database cannot serve now (or the server is overloaded or shutting down): retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /**
         * Erase everything stored from a sender (to one recipient, or to all)
         * @description In one transaction: every message from `from` (to `to` when given), with its statuses, feed events and text in every index, every count adjusted as for DELETE /messages/{message_id}. Answers how many messages were erased (0 when there were none). Logged (the numbers and how many rows, never a text) and counted in `erased_total`.
         */
        delete: {
            parameters: {
                query: {
                    /**
                     * @description Required: the sender, `+` and 1 to 15 digits (a leading space is read as `+`).
                     * @example +919876543210
                     */
                    from: string;
                    /**
                     * @description Only the messages to this recipient, `+` and 1 to 15 digits.
                     * @example +919876543210
                     */
                    to?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Erased (or nothing matched): how many messages went. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "deleted": 12
                         *     }
                         */
                        "application/json": {
                            /** @description Messages erased. */
                            deleted: number;
                        };
                    };
                };
                /** @description ADMIN_TOKEN is set and the request has no `Authorization: Bearer` token that is ADMIN_TOKEN or ADMIN_TOKEN_PREVIOUS (API_TOKEN is not one); `WWW-Authenticate` says which. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description ADMIN_TOKEN is not set on the server: erasure through the API is disabled. */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description `from` is missing, or `from` or `to` is not `+` and 1 to 15 digits, or either is given twice. */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ValidationError"];
                    };
                };
                /** @description The database cannot serve now (or the server is overloaded or shutting down): retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dead-letters": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Provider items that could not be read
         * @description Each unreadable item of a WhatsApp envelope (an entry, a change, a message or a status), kept as received with the reason it could not be read. A redelivered item is kept once.
         */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    offset?: number;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description One page of dead letters, oldest first, with the total kept. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Oldest first. */
                            data: components["schemas"]["DeadLetterItem"][];
                            total: number;
                            limit: number;
                            offset: number;
                        };
                    };
                };
                /** @description API_TOKEN is set and the request has no valid `Authorization: Bearer` token; `WWW-Authenticate` says which. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description A parameter or the body is malformed; every failing field is named. */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ValidationError"];
                    };
                };
                /** @description The database cannot serve now (or the server is overloaded or shutting down): retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/feed": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Every stored event after a position, in commit order
         * @description Each stored message, delivery status and dead letter is an event with a position, strictly increasing in commit order across every replica: a reader that has seen position N never later meets an unseen event at or below N. Follow it by passing each `next_after` back as `after`. Any parameter out of range, malformed or repeated is a 422 naming it.
         */
        get: {
            parameters: {
                query?: {
                    /** @description Events with a greater position. */
                    after?: number;
                    limit?: number;
                    /**
                     * @description Only these event types, comma-separated: any subset of message.created, status.created, dead_letter.created.
                     * @example message.created
                     */
                    types?: string;
                    /** @description Only message.created events of this sender (a leading space is read as `+`). */
                    from?: string;
                    /** @description Only message.created events of this recipient (+ and 1 to 15 digits). */
                    to?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Events after a position, in commit order. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "data": [
                         *         {
                         *           "position": 42,
                         *           "received_at": "2025-01-15T10:00:01.234Z",
                         *           "type": "status.created",
                         *           "data": {
                         *             "message_id": "wamid.HBgL…",
                         *             "status": "read",
                         *             "ts": "2025-01-15T10:00:00Z",
                         *             "recipient_id": "919876543210",
                         *             "errors": null
                         *           }
                         *         }
                         *       ],
                         *       "next_after": 42
                         *     }
                         */
                        "application/json": {
                            /** @description Oldest first. */
                            data: {
                                /** @description Strictly increasing in commit order, across every replica. */
                                position: number;
                                /**
                                 * Format: date-time
                                 * @description When the store took the row in.
                                 */
                                received_at: string;
                                /** @enum {string} */
                                type: "message.created" | "status.created" | "dead_letter.created";
                                /** @description message.created: the message as GET /messages/{message_id} gives it, without statuses. status.created: the status with its message_id. dead_letter.created: the GET /dead-letters item. */
                                data: components["schemas"]["MessageEvent"] | components["schemas"]["StatusEvent"] | components["schemas"]["DeadLetterItem"];
                            }[];
                            /** @description The last position returned, or `after` when nothing is: pass it as `after` for what follows. */
                            next_after: number;
                        };
                    };
                };
                /** @description API_TOKEN is set and the request has no valid `Authorization: Bearer` token; `WWW-Authenticate` says which. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description A parameter or the body is malformed; every failing field is named. */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ValidationError"];
                    };
                };
                /** @description The database cannot serve now (or the server is overloaded or shutting down): retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The feed, live, as Server-Sent Events
         * @description Each event is `id: <position>`, `event: <type>`, `data: <the GET /feed item as JSON>`. It resumes after the `Last-Event-ID` header, else after `?after=` (the header wins: a browser reconnects with the original URL); with neither it starts at the current end. A comment line comes at least every 10 s. Events committed by another replica arrive within a second. A subscriber whose socket falls too far behind is disconnected and resumes from its last id. A bad parameter or header is a 422 before the stream starts.
         */
        get: {
            parameters: {
                query?: {
                    /** @description Resume after this position (Last-Event-ID wins). */
                    after?: number;
                    /**
                     * @description Only these event types, comma-separated: any subset of message.created, status.created, dead_letter.created.
                     * @example message.created
                     */
                    types?: string;
                    /** @description Only message.created events of this sender (a leading space is read as `+`). */
                    from?: string;
                    /** @description Only message.created events of this recipient (+ and 1 to 15 digits). */
                    to?: string;
                };
                header?: {
                    /** @description The last position received: resume after it. */
                    "last-event-id"?: string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The stream (text/event-stream), open until the client leaves. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "text/event-stream": string;
                    };
                };
                /** @description API_TOKEN is set and the request has no valid `Authorization: Bearer` token; `WWW-Authenticate` says which. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description The Accept header refuses text/event-stream (for example `Accept: application/json`). Sent in this shape, not as `{"detail": …}`. */
                406: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "statusCode": 406,
                         *       "error": "Not Acceptable",
                         *       "message": "This endpoint only produces 'text/event-stream'."
                         *     }
                         */
                        "application/json": {
                            /** @enum {number} */
                            statusCode: 406;
                            /** @enum {string} */
                            error: "Not Acceptable";
                            message: string;
                        };
                    };
                };
                /** @description A parameter or the body is malformed; every failing field is named. */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ValidationError"];
                    };
                };
                /** @description SSE_MAX_CLIENTS subscribers are connected already (with Retry-After), or the database is unavailable. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Totals, top senders and time span */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Totals kept exact in the transaction that stores each message. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "total_messages": 123,
                         *       "senders_count": 10,
                         *       "messages_per_sender": [
                         *         {
                         *           "from": "+919876543210",
                         *           "count": 50
                         *         }
                         *       ],
                         *       "first_message_ts": "2025-01-10T09:00:00Z",
                         *       "last_message_ts": "2025-01-15T10:00:00Z"
                         *     }
                         */
                        "application/json": {
                            total_messages: number;
                            senders_count: number;
                            /** @description The top 10 senders by count, descending, ties by sender ascending. */
                            messages_per_sender: {
                                from: string;
                                count: number;
                            }[];
                            /** @description The ts of the earliest message by instant; null when empty. */
                            first_message_ts: string | null;
                            /** @description The ts of the latest message by instant; null when empty. */
                            last_message_ts: string | null;
                        };
                    };
                };
                /** @description API_TOKEN is set and the request has no valid `Authorization: Bearer` token; `WWW-Authenticate` says which. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description The database cannot serve now (or the server is overloaded or shutting down): retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/stats/timeseries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Message counts per hour or day
         * @description Counts per UTC bucket of the messages' `ts` instant, from `since` rounded down to its bucket while a bucket starts before `until`, zeros included; a message counts when since ≤ instant < until. At most 10000 buckets, else 422. Answered from hourly counts kept in the transaction that stores each message.
         */
        get: {
            parameters: {
                query: {
                    /** @description Required. */
                    bucket: "hour" | "day";
                    /** @description YYYY-MM-DDTHH:MM:SS[.fraction]Z; default: 24 hours (hour) or 30 days (day) before until. */
                    since?: string;
                    /** @description YYYY-MM-DDTHH:MM:SS[.fraction]Z; default: now. */
                    until?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Every bucket of the window, oldest first, with its count. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "bucket": "hour",
                         *       "data": [
                         *         {
                         *           "start": "2025-01-15T10:00:00Z",
                         *           "count": 3
                         *         }
                         *       ]
                         *     }
                         */
                        "application/json": {
                            /** @enum {string} */
                            bucket: "hour" | "day";
                            /** @description Oldest first, every bucket of the window, zeros included. */
                            data: {
                                /**
                                 * @description The UTC start of the bucket.
                                 * @example 2025-01-15T10:00:00Z
                                 */
                                start: string;
                                /** @description Messages with since ≤ instant < until in this bucket. */
                                count: number;
                            }[];
                        };
                    };
                };
                /** @description API_TOKEN is set and the request has no valid `Authorization: Bearer` token; `WWW-Authenticate` says which. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
                /** @description A parameter or the body is malformed; every failing field is named. */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ValidationError"];
                    };
                };
                /** @description The database cannot serve now (or the server is overloaded or shutting down): retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Detail"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/live": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: 200 whenever the process is serving */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Serving. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {string} */
                            status: "ok";
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: 200 when the database answers and a webhook secret is set */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Ready. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {string} */
                            status: "ready" | "not ready";
                            checks: {
                                /** @description "ok", or "failed: …" saying which check failed (the reason is in the log). */
                                database: string;
                                /** @description "ok" when at least one webhook secret is set, else "failed: …". */
                                webhook_secret: string;
                            };
                        };
                    };
                };
                /** @description Not ready: `checks` says which check failed. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {string} */
                            status: "ready" | "not ready";
                            checks: {
                                /** @description "ok", or "failed: …" saying which check failed (the reason is in the log). */
                                database: string;
                                /** @description "ok" when at least one webhook secret is set, else "failed: …". */
                                webhook_secret: string;
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics
         * @description The text exposition format, version 0.0.4, with HELP and TYPE lines. Served even while load is shed.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Every metric, with HELP and TYPE lines. */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "text/plain": string;
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** Error */
        Detail: {
            /** @description What went wrong, in words. */
            detail: string;
        };
        ValidationIssue: {
            /** @description Where the failure is: ["body"], ["body", "from"], ["query", "limit"]. */
            loc: (string | number)[];
            /** @description A stable code, in Pydantic's vocabulary where one exists (missing, string_type, …). */
            type: string;
            /** @description What is wrong, in words. */
            msg: string;
        };
        /**
         * Validation error
         * @example {
         *       "detail": [
         *         {
         *           "loc": [
         *             "body",
         *             "from"
         *           ],
         *           "type": "string_pattern_mismatch",
         *           "msg": "String should match pattern '^\\+[0-9]{1,15}$' (+ and 1 to 15 digits)"
         *         },
         *         {
         *           "loc": [
         *             "body",
         *             "ts"
         *           ],
         *           "type": "datetime_format",
         *           "msg": "Timestamp should be YYYY-MM-DDTHH:MM:SS[.fraction]Z (at most 64 fraction digits) naming a real UTC instant"
         *         }
         *       ]
         *     }
         */
        ValidationError: {
            /** @description Every failing field, each once. */
            detail: components["schemas"]["ValidationIssue"][];
        };
        /** @description The five core keys; the others only when `include` names them. */
        MessageItem: {
            /** @example m1 */
            message_id: string;
            /** @example +919876543210 */
            from: string;
            /** @example +14155550100 */
            to: string;
            /**
             * @description As the sender wrote it.
             * @example 2025-01-15T10:00:00Z
             */
            ts: string;
            text: string | null;
            /**
             * @description The provider's message type (text, image, location, …); null for a message of the core form.
             * @example image
             */
            type?: string | null;
            /**
             * @description How it arrived: "spec" (X-Signature), "standard" (Standard Webhooks) or "whatsapp". For messages stored before sources were kept: "whatsapp" when they have a type, else "spec".
             * @enum {string}
             */
            source?: "spec" | "standard" | "whatsapp";
            /**
             * Format: date-time
             * @description Server time (UTC, milliseconds) when the store took the message in.
             * @example 2025-01-15T10:00:01.234Z
             */
            received_at?: string;
            /**
             * @description WhatsApp: the sender's profile name from the envelope's contacts (matched by wa_id); else null.
             * @example Asha Rao
             */
            contact_name?: string | null;
            /** @description WhatsApp: the message_id this message answers (context.id); else null. */
            reply_to?: string | null;
            /**
             * @description WhatsApp: the envelope's metadata.phone_number_id, the id of the business number that received it (needed to answer through the Cloud API); else null.
             * @example 106540352242922
             */
            phone_number_id?: string | null;
            /** @description What the provider sent about this message, as JSON: the signed body object (unknown fields included) for spec and standard, the messages[] item exactly as received for whatsapp. Null for messages stored before it was kept. */
            raw?: unknown;
        };
        StatusItem: {
            /** @enum {string} */
            status: "sent" | "delivered" | "read" | "failed";
            /** @example 2025-01-15T10:00:05Z */
            ts: string;
            recipient_id: string | null;
            /** @description The provider's errors array as received, or null. */
            errors: unknown;
        };
        DeadLetterItem: {
            id: number;
            /** Format: date-time */
            received_at: string;
            /** @example whatsapp */
            source: string;
            /** @enum {string} */
            kind: "entry" | "change" | "message" | "status";
            /** @example from: expected 1 to 15 digits */
            reason: string;
            item_id: string | null;
            /** @description The unreadable item as received (cut below 64 levels of nesting). */
            item: unknown;
        };
        MessageEvent: {
            message_id: string;
            from: string;
            to: string;
            ts: string;
            text: string | null;
            /**
             * @description The provider's message type (text, image, location, …); null for a message of the core form.
             * @example image
             */
            type: string | null;
            /**
             * @description How it arrived: "spec" (X-Signature), "standard" (Standard Webhooks) or "whatsapp". For messages stored before sources were kept: "whatsapp" when they have a type, else "spec".
             * @enum {string}
             */
            source: "spec" | "standard" | "whatsapp";
            /**
             * Format: date-time
             * @description Server time (UTC, milliseconds) when the store took the message in.
             * @example 2025-01-15T10:00:01.234Z
             */
            received_at: string;
            /**
             * @description WhatsApp: the sender's profile name from the envelope's contacts (matched by wa_id); else null.
             * @example Asha Rao
             */
            contact_name: string | null;
            /** @description WhatsApp: the message_id this message answers (context.id); else null. */
            reply_to: string | null;
            /**
             * @description WhatsApp: the envelope's metadata.phone_number_id, the id of the business number that received it (needed to answer through the Cloud API); else null.
             * @example 106540352242922
             */
            phone_number_id: string | null;
            /** @description What the provider sent about this message, as JSON: the signed body object (unknown fields included) for spec and standard, the messages[] item exactly as received for whatsapp. Null for messages stored before it was kept. */
            raw: unknown;
        };
        StatusEvent: {
            message_id: string;
            /** @enum {string} */
            status: "sent" | "delivered" | "read" | "failed";
            /** @example 2025-01-15T10:00:05Z */
            ts: string;
            recipient_id: string | null;
            /** @description The provider's errors array as received, or null. */
            errors: unknown;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
