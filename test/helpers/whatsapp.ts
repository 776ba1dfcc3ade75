// Building WhatsApp Cloud API envelopes in tests that make up their own items: the same builder
// the command line's examples are made with.

export { whatsappEnvelope } from '../../src/cli/whatsapp-examples.js';
