// The language the page formats numbers and dates in. Imported first by main.tsx: a browser
// started without a locale (LANG=C, as in containers and CI) reports navigator.language as
// "en-US@posix", a tag Intl refuses with an exception. uPlot formats with navigator.language as
// soon as it loads, so the tag is replaced before any other module runs, here.

function accepted(tag: string | undefined): boolean {
  try {
    new Intl.NumberFormat(tag);
    return true;
  } catch {
    return false;
  }
}

if (!accepted(navigator.language)) {
  // An own property shadows Navigator.prototype's getter for this page only.
  Object.defineProperty(navigator, 'language', { value: 'en-US', configurable: true });
}

/** What Intl formatters of this page are given (undefined: the browser's default). */
export const LANGUAGE: string | undefined = accepted(undefined) ? undefined : 'en-US';
