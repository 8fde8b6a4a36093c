import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_SECRET_LENGTH, redact, redactor, urlCredentials, withoutCredentials } from '../../src/util/redact.js';

test('withoutCredentials drops user:password and leaves every other URL as it is', () => {
  assert.equal(withoutCredentials('https://user:token@host.example/v1'), 'https://host.example/v1');
  assert.equal(withoutCredentials('http://token@127.0.0.1:8000/v1?x=1'), 'http://127.0.0.1:8000/v1?x=1');
  assert.equal(withoutCredentials('http://:pw@host/v1'), 'http://host/v1');
  assert.equal(withoutCredentials('http://localhost:8000/v1'), 'http://localhost:8000/v1');
  assert.equal(withoutCredentials('http://localhost:8000/v1/'), 'http://localhost:8000/v1/');
  // not a URL the parser takes: the userinfo is still cut
  assert.equal(withoutCredentials('http://user:pw@ho st/v1'), 'http://ho st/v1');
  assert.equal(withoutCredentials('not a url'), 'not a url');
});

test('urlCredentials gives the user name and password as written and decoded', () => {
  assert.deepEqual(urlCredentials('https://al%20ice:p%40ss@host/'), ['al%20ice', 'al ice', 'p%40ss', 'p@ss']);
  assert.deepEqual(urlCredentials('https://host/'), []);
  assert.deepEqual(urlCredentials('nonsense'), []);
  assert.deepEqual(urlCredentials(undefined), []);
});

test('the redactor removes the given secrets, URL credentials in the text and OpenAI-style keys', () => {
  const redact1 = redactor(['s3cret-value', undefined, '']);
  assert.equal(redact1('error: s3cret-value rejected, s3cret-value again'), 'error: *** rejected, *** again');
  assert.equal(redact1('POST https://bob:pw@api.example.com/v1/x failed; see http://host/a@b'), 'POST https://api.example.com/v1/x failed; see http://host/a@b');
  assert.equal(redact1('Incorrect API key provided: sk-abc***wxyz.'), 'Incorrect API key provided: sk-***.');
  assert.equal(redact1('key sk-proj-AbCdEf0123456789_x'), 'key sk-***');
  // short look-alikes and words are left alone
  assert.equal(redact1('use task-manager and sk-learn'), 'use task-manager and sk-learn');
});

test(`secrets of at least ${MIN_SECRET_LENGTH} characters are removed, shorter ones are not; a longer one whole`, () => {
  assert.equal(redact('abcd abc', ['abcd']), '*** abc');
  assert.equal(redact('abc and more', ['abc']), 'abc and more');
  assert.equal(redact('token tokenEXTRA', ['token', 'tokenEXTRA']), '*** ***');
  assert.equal(redact('nothing to hide', []), 'nothing to hide');
});
