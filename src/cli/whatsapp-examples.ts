// Realistic WhatsApp Cloud API webhook envelopes, one per message type Meta documents, each with
// one `messages[]` item: what `webhook-inbox send --whatsapp-fixture NAME` posts, and what the
// tests that read every type post too. Ids, numbers and times are made up; every field Meta
// documents for the type is there.

/** A one-change envelope of field "messages" with these items, shaped as Meta sends it. */
export function whatsappEnvelope(
  items: { messages?: unknown[]; statuses?: unknown[]; contacts?: unknown[] },
  displayPhoneNumber = '15550783881',
): object {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: displayPhoneNumber, phone_number_id: '106540352242922' },
              ...items,
            },
          },
        ],
      },
    ],
  };
}

export const WHATSAPP_EXAMPLES = {
  audio: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: '佐藤 花子' }, wa_id: '819012345678' }],
              messages: [
                {
                  from: '819012345678',
                  id: 'wamid.GAw4MTkwMTIzNDU2NzgVAgASGCBGRDk3NjcyRDRDQzhFOTM5NjZBOURFRDU5Qzg5RDg5MAA=',
                  timestamp: '1739001840',
                  type: 'audio',
                  audio: {
                    mime_type: 'audio/ogg; codecs=opus',
                    sha256: 'pkOJFtVxeabK/ZswYefNuuwVLZPunc3zulxxsPwX1iM=',
                    id: '1046373206297829',
                    url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1046373206297829&ext=1739005440&hash=ATs2Lw7Nc1Vb',
                    voice: true,
                  },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  button: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'محمد علي' }, wa_id: '201001234567' }],
              messages: [
                {
                  context: {
                    from: '15550783881',
                    id: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDZGQTgwRUY3MzQ0NkMxQTFDRTEyOEY4MzA1QTE3QUNFAA==',
                  },
                  from: '201001234567',
                  id: 'wamid.GAwyMDEwMDEyMzQ1NjcVAgASGCA3MDdGRDg2OUYwNjZEMUMzQzY3MjAxMjNFMkM1OTI5RgA=',
                  timestamp: '1739002260',
                  type: 'button',
                  button: { payload: 'CONFIRM_DELIVERY_7731', text: 'تأكيد الموعد' },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  contacts: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Chloé Nguyễn' }, wa_id: '61412345678' }],
              messages: [
                {
                  from: '61412345678',
                  id: 'wamid.GAs2MTQxMjM0NTY3OBUCABIYIEVBRkIxQUYxQTAxNDU1NjUzRTQ2OTYxNkI1QThBRTY4AA==',
                  timestamp: '1739002080',
                  contacts: [
                    {
                      addresses: [
                        {
                          city: 'Hà Nội',
                          country: 'Việt Nam',
                          country_code: 'VN',
                          state: 'Hà Nội',
                          street: '12 Phố Huế',
                          type: 'HOME',
                          zip: '100000',
                        },
                      ],
                      birthday: '1990-04-23',
                      emails: [{ email: 'minh.tran@example.com', type: 'WORK' }],
                      name: {
                        formatted_name: 'Trần Văn Minh',
                        first_name: 'Minh',
                        last_name: 'Trần',
                        middle_name: 'Văn',
                        suffix: '',
                        prefix: 'Dr.',
                      },
                      org: { company: 'Phở & Co.', department: 'Bếp', title: 'Bếp trưởng' },
                      phones: [
                        { phone: '+84 91 234 56 78', wa_id: '84912345678', type: 'CELL' },
                        { phone: '+84 24 3826 1234', type: 'WORK' },
                      ],
                      urls: [{ url: 'https://pho-and-co.example', type: 'WORK' }],
                    },
                  ],
                  type: 'contacts',
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  document: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Martín Núñez' }, wa_id: '34612345678' }],
              messages: [
                {
                  from: '34612345678',
                  id: 'wamid.GAszNDYxMjM0NTY3OBUCABIYIENGMUQzMzVBREFEMzI5Q0M0MTZCM0I1RkEyQUI5OUU1AA==',
                  timestamp: '1739001900',
                  type: 'document',
                  document: {
                    caption: 'Factura de enero, ¿pueden revisarla?',
                    filename: 'factura-enero-2025.pdf',
                    mime_type: 'application/pdf',
                    sha256: 'pZGc0HzmtpNMfpXYbPRcqelFlNvuPr5pYdNFB0MCAjI=',
                    id: '1118794491697764',
                    url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1118794491697764&ext=1739005500&hash=ATpE5mXc0s9T',
                  },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  image: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Jürgen Groß' }, wa_id: '4915112345678' }],
              messages: [
                {
                  from: '4915112345678',
                  id: 'wamid.GA00OTE1MTEyMzQ1Njc4FQIAEhggQTE1NDMwQUIxQ0Y1NEVFN0Y0RTA1NEZBNUI4OTIxOEEA',
                  timestamp: '1739001720',
                  type: 'image',
                  image: {
                    caption: 'So kam das Paket an – die Ecke ist eingedrückt',
                    mime_type: 'image/jpeg',
                    sha256: 'fHg25jtqPKlHLSeuANdnNCoOVmwtpsu8ROsny6Lc43M=',
                    id: '1034209876852108',
                    url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1034209876852108&ext=1739005320&hash=ATvQ3x9KpLm2',
                  },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  'interactive-button-reply': {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Małgorzata Wójcik' }, wa_id: '48512345678' }],
              messages: [
                {
                  context: {
                    from: '15550783881',
                    id: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDc3MTJGNTM4MEIyQkM5QkZCRjM4NDhGQjMyN0I3OUYzAA==',
                  },
                  from: '48512345678',
                  id: 'wamid.GAs0ODUxMjM0NTY3OBUCABIYIDc5NkQ4OTc2NTVFNDY5MEIwMTE4RDNGQ0FEOUZCN0I5AA==',
                  timestamp: '1739002140',
                  type: 'interactive',
                  interactive: { type: 'button_reply', button_reply: { id: 'reschedule-visit-4471', title: 'Zmień termin' } },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  'interactive-list-reply': {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Алексей Смирнов' }, wa_id: '79161234567' }],
              messages: [
                {
                  context: {
                    from: '15550783881',
                    id: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDRCRDRDN0U3ODIwRkMzMDE1OTYyQUUwN0UxMDc1RDU0AA==',
                  },
                  from: '79161234567',
                  id: 'wamid.GAs3OTE2MTIzNDU2NxUCABIYIEI2OTExQTVGQzc4MjIxNjg0MTVGN0YxNkMyREJFMDNCAA==',
                  timestamp: '1739002200',
                  type: 'interactive',
                  interactive: {
                    type: 'list_reply',
                    list_reply: {
                      id: 'slot-2025-02-10-0930',
                      title: 'Пн, 10 февраля, 9:30',
                      description: 'Утренний приём · 30 минут',
                    },
                  },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  location: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Asha Rao' }, wa_id: '919876543210' }],
              messages: [
                {
                  from: '919876543210',
                  id: 'wamid.GAw5MTk4NzY1NDMyMTAVAgASGCBDMjZBNERFMDc5NkREODQ2NTFFODQ3Njk4ODk5MUFDOAA=',
                  timestamp: '1739002020',
                  location: {
                    address: 'Mahatma Gandhi Rd, Shanthala Nagar, Bengaluru, Karnataka 560001',
                    latitude: 12.975586316385327,
                    longitude: 77.60686792433262,
                    name: 'Café Noir — MG Road',
                    url: 'https://www.cafenoir.example/mg-road',
                  },
                  type: 'location',
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  order: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Chiamaka Obi' }, wa_id: '2348031234567' }],
              messages: [
                {
                  from: '2348031234567',
                  id: 'wamid.GA0yMzQ4MDMxMjM0NTY3FQIAEhggRTU1QTA5MzYyQTY4QkJCREJCMkE3NjdGNjE3QjI0RkYA',
                  timestamp: '1739002380',
                  type: 'order',
                  order: {
                    catalog_id: '1045810245509150',
                    text: 'Please deliver before Friday — gate code 4471 🙏',
                    product_items: [
                      { product_retailer_id: 'ankara-tote-blue', quantity: 2, item_price: 12500.5, currency: 'NGN' },
                      { product_retailer_id: 'shea-butter-250g', quantity: 1, item_price: 4800, currency: 'NGN' },
                    ],
                  },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  reaction: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: '김민준' }, wa_id: '821012345678' }],
              messages: [
                {
                  from: '821012345678',
                  id: 'wamid.GAw4MjEwMTIzNDU2NzgVAgASGCA0NDlGNTYwMTRGNDNFNjdCRDBBQ0Q5MTU2MzdDRENCQQA=',
                  timestamp: '1739002320',
                  reaction: {
                    message_id: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDU4RjMyQjgyQ0Y1MzFBNjFDRUQyNjc2OUMzNUU1OTE2AA==',
                    emoji: '❤️',
                  },
                  type: 'reaction',
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  sticker: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Çağla Yılmaz' }, wa_id: '905321234567' }],
              messages: [
                {
                  from: '905321234567',
                  id: 'wamid.GAw5MDUzMjEyMzQ1NjcVAgASGCBENDcwRjgxNzIzQUZCNjA4MDhGRUYzODg2NTMxQkZFNQA=',
                  timestamp: '1739001960',
                  type: 'sticker',
                  sticker: {
                    mime_type: 'image/webp',
                    sha256: 'qJd3lt1mL+DDKvJXVNN8kIxQsVkHH+vU4euhF+tD8l8=',
                    id: '1091463039902636',
                    url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1091463039902636&ext=1739005560&hash=ATn7Gq4Hd2Wz',
                    animated: true,
                  },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  system: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              messages: [
                {
                  from: '16505551234',
                  id: 'wamid.GAsxNjUwNTU1MTIzNBUCABIYIEQ0RDQ0NThFMDNEOTU4Q0NDOEM3N0RFQ0ExQjg4QzU3AA==',
                  timestamp: '1739002440',
                  type: 'system',
                  system: {
                    body: 'User Renée Dubé changed from 16505551234 to 16505559876',
                    wa_id: '16505559876',
                    type: 'user_changed_number',
                  },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  text: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Zoë O’Brien' }, wa_id: '447700900123' }],
              messages: [
                {
                  from: '447700900123',
                  id: 'wamid.GAw0NDc3MDA5MDAxMjMVAgASGCA1NTA1Mzg0NkU2QzY4MzZEMzBGREJCRjk4REM0QTFFRAA=',
                  timestamp: '1739001600',
                  type: 'text',
                  text: { body: 'Hi! Do you deliver to Cork? 🚚 Ich zahle gern per Überweisung.' },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  'text-reply-context': {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'João Conceição' }, wa_id: '5511987654321' }],
              messages: [
                {
                  context: {
                    from: '15550783881',
                    id: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDU4RjMyQjgyQ0Y1MzFBNjFDRUQyNjc2OUMzNUU1OTE2AA==',
                  },
                  from: '5511987654321',
                  id: 'wamid.GA01NTExOTg3NjU0MzIxFQIAEhggRTgxNUZEODc4QTFEOTdCMjMzQUI3Nzk3QjhGMTNBNDcA',
                  timestamp: '1739001660',
                  type: 'text',
                  text: { body: 'Sim, pode ser às 15h 👍' },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  unsupported: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Siti Nurhaliza' }, wa_id: '6591234567' }],
              messages: [
                {
                  from: '6591234567',
                  id: 'wamid.GAo2NTkxMjM0NTY3FQIAEhggMzVFMzZGQ0E5MkI1NjlBQTlDNTJDMjQ5MkNFRDI3RTYA',
                  timestamp: '1739002500',
                  errors: [
                    {
                      code: 131051,
                      title: 'Message type unknown',
                      message: 'Message type unknown',
                      error_data: { details: 'Message type is currently not supported.' },
                    },
                  ],
                  type: 'unsupported',
                  unsupported: { type: 'poll_creation' },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
  video: {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Élodie Lefèvre' }, wa_id: '33612345678' }],
              messages: [
                {
                  from: '33612345678',
                  id: 'wamid.GAszMzYxMjM0NTY3OBUCABIYIEEyMDQwNTU0NkFDREY2QkY5MjY1NUE5NURFNUI1MDk4AA==',
                  timestamp: '1739001780',
                  type: 'video',
                  video: {
                    caption: 'Voilà le bruit que fait la machine 🎥',
                    mime_type: 'video/mp4',
                    sha256: 'Hq/lncqi77zcXAOWtzQOEBaDyGeoPHCgUsXPf9Z+FOU=',
                    id: '1013164850532412',
                    url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1013164850532412&ext=1739005380&hash=ATu8Yk0Rz4Qd',
                  },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  },
} as const satisfies Readonly<Record<string, object>>;

export type WhatsAppExampleName = keyof typeof WHATSAPP_EXAMPLES;

/** Every example's name, in alphabetical order. */
export const WHATSAPP_EXAMPLE_NAMES = Object.keys(WHATSAPP_EXAMPLES) as WhatsAppExampleName[];

/** The example envelope as the bytes a sender posts (JSON, two-space indented, as Meta's documentation shows it). */
export function whatsappExampleBody(name: WhatsAppExampleName): Buffer {
  return Buffer.from(`${JSON.stringify(WHATSAPP_EXAMPLES[name], null, 2)}\n`);
}
