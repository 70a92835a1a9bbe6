/**
 * A one-time code as people type or paste it: "170 393", "170-393", " 170393 "
 * (spaces, non-breaking spaces and dashes of any kind are dropped before it is
 * checked and sent; the field itself has no maxlength, which would cut a pasted
 * "170 393" to "170 39").
 */
const SEPARATORS = /[\s\u00ad\u2010-\u2015\u2212-]/g;

export function typedCode(value: string): string {
  return value.replace(SEPARATORS, '');
}

export const CODE_PATTERN = /^\d{6}$/;
