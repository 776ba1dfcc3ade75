// The dashboard's entry: draws the app into #app. Loaded as a module from index.html, with no
// inline script (the Content-Security-Policy forbids them).

// First: it repairs navigator.language before uPlot reads it.
import './language';
import { render } from 'preact';
import { App } from './app';
import './styles.css';

const root = document.getElementById('app');
if (root !== null) {
  root.replaceChildren();
  render(<App />, root);
}
