declare global {
  /** The Express major the Jest project runs this file on (jest.config.js `globals`). */
  var EXPRESS_MAJOR_UNDER_TEST: number | undefined;
}

/** The major of the Express that `import express from 'express'` loads here (jest.config.js maps it per project). */
export function loadedExpressMajor(): number {
  return Number((require('express/package.json') as { version: string }).version.split('.')[0]);
}

/** The major this Jest project is meant to run on; a test file run outside the projects fails loudly. */
export function expressMajorUnderTest(): 4 | 5 {
  const major = globalThis.EXPRESS_MAJOR_UNDER_TEST;
  if (major !== 4 && major !== 5) throw new Error('EXPRESS_MAJOR_UNDER_TEST is not set: run the tests through jest.config.js');
  return major;
}
