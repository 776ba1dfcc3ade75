// The synthetic messages live with the command line that seeds them (`webhook-inbox seed`); the
// benchmark's modules import them from here.

export * from '../src/cli/synthetic.js';
