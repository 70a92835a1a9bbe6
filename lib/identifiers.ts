import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { z } from 'zod';
import { VerificationError } from './errors';
import { MAX_EMAIL_LENGTH } from './http/schemas';
import type { Identifier } from './records';
import { keyedRef } from './keyed-ref';

/** E.164 caps a number at 15 digits. Longer input is refused early. */
const MAX_PHONE_LENGTH = 32;

const emailSchema = z.email();

function invalid(message: string): VerificationError {
  return new VerificationError('request.invalid_input', { message, details: { field: 'identifier.value' } });
}

/** Lower-cased email or E.164 phone number, or a 400 naming `identifier.value`. */
export function normalizeIdentifier(input: { type: 'email' | 'phone'; value: string }): Identifier {
  const value = input.value.trim();
  if (input.type === 'email') {
    const email = value.toLowerCase();
    if (email.length > MAX_EMAIL_LENGTH || !emailSchema.safeParse(email).success) {
      throw invalid('Invalid field "identifier.value": not a valid email address');
    }
    return { type: 'email', value: email };
  }
  if (!value.startsWith('+') || value.length > MAX_PHONE_LENGTH) {
    throw invalid('Invalid field "identifier.value": a phone number must be in E.164 form, e.g. +14155550100');
  }
  try {
    // The "max" metadata checks number ranges per country, not only lengths.
    const phone = parsePhoneNumberWithError(value);
    if (phone.isValid()) return { type: 'phone', value: phone.number };
  } catch {
    // fall through to the same answer as an invalid number
  }
  throw invalid('Invalid field "identifier.value": not a valid phone number');
}

/**
 * What a pending code record (and a new-identifier record) keeps of an identifier: an HMAC of its
 * type and normalised value under the server secret, 128 bits in base64url, so Redis never holds
 * the email address or phone number a code was sent to, and a leaked key space cannot be matched
 * against a list of addresses without the secret.
 */
export function identifierRef(secret: Buffer, identifier: Identifier): string {
  return keyedRef(secret, `identifier\0${identifier.type}\0`, identifier.value);
}

/** The user's identifier of this type as the lookup reports it, normalised the same way (null when unusable). */
export function normalizeKnown(type: 'email' | 'phone', value: string | null | undefined): Identifier | null {
  if (typeof value !== 'string' || value.length === 0) return null;
  try {
    return normalizeIdentifier({ type, value });
  } catch {
    return null;
  }
}

/** Providers where dots in the local part are ignored (they all reach one inbox). */
const DOTLESS_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/**
 * The inbox an identifier reaches, for counting sends to it across accounts: `+tags` dropped,
 * and dots for providers that ignore them, so `v.ictim+1@gmail.com` and `victim@gmail.com`
 * count as one. Not an identity (a user's address stays as they gave it); phone numbers are
 * already canonical in E.164.
 */
export function mailboxOf(identifier: Identifier): string {
  if (identifier.type === 'phone') return `phone:${identifier.value}`;
  const at = identifier.value.lastIndexOf('@');
  let local = identifier.value.slice(0, at);
  let domain = identifier.value.slice(at + 1);
  local = local.split('+')[0] ?? local;
  if (DOTLESS_DOMAINS.has(domain)) {
    local = local.replace(/\./g, '');
    domain = 'gmail.com';
  }
  return `email:${local}@${domain}`;
}

/**
 * `a***e@example.com`, `+1***00`: enough to recognise, not to use. For events and logs. A phone
 * number keeps its country calling code and its last 2 digits only: with the area code and 4 digits
 * kept, one in a thousand numbers would match, which is no mask.
 */
export function maskIdentifier(identifier: Identifier): string {
  if (identifier.type === 'email') {
    const at = identifier.value.lastIndexOf('@');
    const local = identifier.value.slice(0, at);
    const domain = identifier.value.slice(at);
    const masked = local.length <= 2 ? `${local[0] ?? ''}***` : `${local[0]}***${local[local.length - 1]}`;
    return `${masked}${domain}`;
  }
  const v = identifier.value;
  let country = '';
  try {
    country = parsePhoneNumberWithError(v).countryCallingCode;
  } catch {
    // not a number libphonenumber knows: mask all but the last 2 digits
  }
  return `+${country}***${v.length > 6 ? v.slice(-2) : ''}`;
}
