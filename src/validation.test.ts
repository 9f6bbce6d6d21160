import { isTemplateVariable, sessionIdError, traceIdError } from './validation';

describe('isTemplateVariable', () => {
  it.each([
    ['$session', true],
    ['${session}', true],
    ['${session:raw}', true],
    [' $session ', true],
    ['[[session]]', true],
    ['session', false],
    ['abc$session', false],
    ['[[]]', false],
    ['', false],
  ])('%p → %p', (s, expected) => {
    expect(isTemplateVariable(s)).toBe(expected);
  });
});

describe('sessionIdError', () => {
  it('accepts what the backend accepts', () => {
    expect(sessionIdError('0af7651916cd43dd8448eb211c80319c')).toBeUndefined();
    expect(sessionIdError(' 0af7651916cd43dd8448eb211c80319c\n')).toBeUndefined();
    expect(sessionIdError(undefined)).toBeUndefined();
    expect(sessionIdError('   ')).toBeUndefined();
  });

  it('rejects what the backend rejects', () => {
    expect(sessionIdError('0af7651916cd43dd8448eb211c80319')).toMatch(/this has 31/);
    expect(sessionIdError('0af7651916cd43dd8448eb211c80319c0')).toMatch(/this has 33/);
    expect(sessionIdError('0AF7651916CD43DD8448EB211C80319C')).toMatch(/lowercase/);
    expect(sessionIdError('0'.repeat(32))).toMatch(/all-zero/);
    expect(sessionIdError('0af7651916cd-43dd-8448-eb211c80319c')).toMatch(/0-9, a-f/);
  });
});

describe('traceIdError', () => {
  it('accepts 32 or 16 hex characters in either case, and variables', () => {
    expect(traceIdError('4bf92f3577b34da6a3ce929d0e0e4736')).toBeUndefined();
    expect(traceIdError('4BF92F3577B34DA6A3CE929D0E0E4736')).toBeUndefined();
    expect(traceIdError('a3ce929d0e0e4736')).toBeUndefined();
    expect(traceIdError('$trace')).toBeUndefined();
    expect(traceIdError('')).toBeUndefined();
  });

  it('rejects other lengths, non-hex and all zeros', () => {
    expect(traceIdError('a3ce929d0e0e47')).toMatch(/this has 14/);
    expect(traceIdError('0'.repeat(32))).toMatch(/all-zero/);
    expect(traceIdError('0'.repeat(16))).toMatch(/all-zero/);
    expect(traceIdError('xyz')).toMatch(/0-9, a-f/);
  });
});
