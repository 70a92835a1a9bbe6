/**
 * Configuration errors: thrown at startup (and by `createVerification` for a bad method name, a
 * bug in the app's code rather than in a request), each with a stable
 * code like express-rate-limit's `ERR_ERL_*`, so a deployment check can tell them apart. The
 * README's "Configuration errors" table lists every code.
 */
export const CONFIG_ERROR_CODES = {
  /** An options object has a key the library does not know (a typo would otherwise be ignored silently). */
  ERR_STEP_UP_UNKNOWN_OPTION: 'unknown option',
  /** A required option is absent. */
  ERR_STEP_UP_MISSING_OPTION: 'missing option',
  /** An option has the wrong type or a value out of range. */
  ERR_STEP_UP_INVALID_OPTION: 'invalid option',
  /** `secret` is missing while records live in a shared store. */
  ERR_STEP_UP_SECRET_REQUIRED: 'secret required',
  /** A secret or key is shorter than 32 bytes. */
  ERR_STEP_UP_WEAK_SECRET: 'weak secret',
  /** A JWT algorithm list allows `none`, or mixes shared-secret and public-key algorithms. */
  ERR_STEP_UP_UNSAFE_ALGORITHM: 'unsafe algorithm',
  /** A custom store is used without `counters` for the rate limits. */
  ERR_STEP_UP_COUNTERS_REQUIRED: 'counters required',
  /** An optional package the chosen feature needs is not installed. */
  ERR_STEP_UP_PACKAGE_MISSING: 'package missing',
} as const;

export type ConfigErrorCode = keyof typeof CONFIG_ERROR_CODES;

/** A misconfiguration found at startup. `code` is stable; `message` says how to fix it. */
export class StepUpConfigError extends TypeError {
  override readonly name = 'StepUpConfigError';
  constructor(
    readonly code: ConfigErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`express-step-up: ${message} [${code}]`, options);
  }
}

/**
 * Throws ERR_STEP_UP_UNKNOWN_OPTION when `options` has a key outside `known`, naming the closest
 * known key. `where` names the options object, e.g. `requireVerification()`.
 */
export function rejectUnknownOptions(where: string, options: object | undefined, known: readonly string[]): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `${where} takes an options object`);
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const suggestion = closest(key, known);
    throw new StepUpConfigError(
      'ERR_STEP_UP_UNKNOWN_OPTION',
      `${where} has no option \`${key}\`${suggestion ? `; did you mean \`${suggestion}\`?` : ''} (known: ${known.join(', ')})`,
    );
  }
}

/**
 * The known key that starts with `key`, or else the nearest one (case-insensitive edit distance
 * at most a third of its length), or undefined. Written here because it is a dozen lines; a spelling library would be a dependency
 * for one error message.
 */
function closest(key: string, known: readonly string[]): string | undefined {
  const wanted = key.toLowerCase();
  // A shortened name (`window` for `windowSeconds`) is as likely a slip as a misspelt one.
  const extended = known.find((name) => wanted.length >= 4 && name.toLowerCase().startsWith(wanted));
  if (extended !== undefined) return extended;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(wanted, name.toLowerCase());
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  return best !== undefined && best.distance <= Math.max(1, Math.floor(key.length / 3)) ? best.name : undefined;
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      row[j] = Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length] as number;
}

/** A positive finite number (an integer when asked), or ERR_STEP_UP_INVALID_OPTION. */
export function positiveNumber(name: string, value: unknown, fallback: number, integer = false): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isFinite(resolved) || resolved <= 0 || (integer && !Number.isInteger(resolved))) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `\`${name}\` must be a positive ${integer ? 'integer' : 'number'}`);
  }
  return resolved;
}

/** A function or undefined, or ERR_STEP_UP_INVALID_OPTION. */
export function optionalFunction<T extends (...args: never[]) => unknown>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `\`${name}\` must be a function`);
  }
  return value;
}
