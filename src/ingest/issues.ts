// The shape of one validation failure, as FastAPI/Pydantic report it.

export interface ValidationIssue {
  /** Where the failure is: ["body"], ["body", "from"], ["query", "limit"]. */
  readonly loc: readonly (string | number)[];
  readonly msg: string;
  /** A stable machine-readable code, in Pydantic's vocabulary where one exists. */
  readonly type: string;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: ValidationIssue[] };

/** Code points in `s` (an emoji is one), or -1 when `s` holds an unpaired UTF-16 surrogate. */
export function codePointLength(s: string): number {
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return -1;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return -1;
    }
    count++;
  }
  return count;
}
