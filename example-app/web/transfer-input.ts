/**
 * The transfer form's fields as the server's contract wants them: the amount a
 * decimal string with two decimals ("250" and "250,5" become "250.00" and
 * "250.50"), the currency three capital letters, the payee an IBAN-like account
 * without the spaces people type for readability, uppercased.
 *
 * These strings are also what the verification approves (the server binds the
 * record to exactly them), so the page normalises once, shows the result in the
 * form, and sends the same strings.
 */
export interface TransferInput {
  readonly amount: string;
  readonly currency: string;
  readonly payee: string;
}

export type TransferCheck =
  | { readonly ok: true; readonly transfer: TransferInput }
  | { readonly ok: false; readonly field: 'amount' | 'payee'; readonly message: string };

/** Whole units, optional separator (point or comma: "12,50" is common in Europe), up to two decimals. */
const AMOUNT = /^(\d{1,7})(?:[.,](\d{1,2}))?$/;
const MAX_AMOUNT_CENTS = 1_000_000_00;
const CURRENCY = /^[A-Z]{3}$/;
const PAYEE = /^[A-Z0-9]{1,64}$/;

export function transferInput(amountText: string, currencyText: string, payeeText: string): TransferCheck {
  const match = AMOUNT.exec(amountText.trim());
  const units = match?.[1];
  const cents = (match?.[2] ?? '').padEnd(2, '0');
  const totalCents = units === undefined ? NaN : Number(units) * 100 + Number(cents);
  if (units === undefined || !(totalCents > 0) || totalCents > MAX_AMOUNT_CENTS) {
    return { ok: false, field: 'amount', message: 'Enter an amount between 0.01 and 1000000.00, with at most two decimals.' };
  }
  const amount = `${Number(units)}.${cents}`;
  const currency = currencyText.trim();
  if (!CURRENCY.test(currency)) return { ok: false, field: 'amount', message: 'Choose a currency.' };
  const payee = payeeText.replace(/\s+/g, '').toUpperCase();
  if (!PAYEE.test(payee)) {
    return { ok: false, field: 'payee', message: 'Enter the payee account: 1 to 64 letters and digits (spaces are fine).' };
  }
  return { ok: true, transfer: { amount, currency, payee } };
}
