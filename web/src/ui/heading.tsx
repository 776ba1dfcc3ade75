// A view's <h1>, which also names the browser tab. After the user moves to another view, focus
// goes to its heading, so a screen reader announces where they are and the keyboard continues
// from the top of the new view.

import { useEffect, useRef } from 'preact/hooks';

let focusNextHeading = false;

/** Called by the router on a change of view (not on the first load: focus stays where it is). */
export function focusHeadingOnNextView(): void {
  focusNextHeading = true;
}

export function Heading({ children }: { children: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${children} · webhook-inbox`;
  }, [children]);
  useEffect(() => {
    if (!focusNextHeading) return;
    focusNextHeading = false;
    ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}
