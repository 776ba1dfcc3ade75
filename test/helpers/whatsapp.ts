// Building WhatsApp Cloud API envelopes in tests that make up their own items.

/** A one-change envelope of field "messages" with these items, as Meta shapes it. */
export function whatsappEnvelope(
  items: { messages?: unknown[]; statuses?: unknown[] },
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
