/**
 * Loading of the provider SDKs (twilio, @sendgrid/mail, @sendgrid/client), which
 * are optional peer dependencies: an app that only verifies passwords, or sends
 * through its own sender, installs none of them, and importing the library must
 * not load them. Each sender factory loads its SDK when it is called.
 *
 * The SDKs are CommonJS packages, so they are loaded with `require` in both
 * builds: the CommonJS build calls Node's `require`; in the ES module build the
 * bundler turns it into a `require` made by `module.createRequire(import.meta.url)`,
 * which resolves from the library's own folder exactly like an import would, and
 * returns the same module instance the app gets from `import twilio from 'twilio'`.
 * A dynamic `import()` would make the factories asynchronous, and they are not.
 */
import { StepUpConfigError } from './config-error';

/**
 * Calls `load` (a `require` of `packageName`) and returns what it returns. When
 * the package itself is not installed, throws a TypeError that names the
 * package and the install command; any other failure (including a missing
 * dependency of the package) is thrown as it is.
 */
export function loadOptionalPeer<T>(factory: string, packageName: string, load: () => T, neededBy = `${factory}()`): T {
  try {
    return load();
  } catch (error) {
    if (!isPackageNotFound(error, packageName)) throw error;
    throw new StepUpConfigError(
      'ERR_STEP_UP_PACKAGE_MISSING',
      `${factory}: the package "${packageName}" is not installed. It is an optional peer dependency of ` +
        `express-step-up, needed only by ${neededBy}: run \`npm install ${packageName}\`.`,
      { cause: error },
    );
  }
}

/** Node's (and Jest's) "Cannot find module '<name>'" for that very package, not for a module it requires. */
function isPackageNotFound(error: unknown, packageName: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    message.includes(`'${packageName}'`)
  );
}
