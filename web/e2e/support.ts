import { createDecipheriv } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

export const BASE_URL = (process.env.UT360_E2E_URL ?? 'http://127.0.0.1:18080').replace(/\/$/, '');
export const API_KEY = process.env.UT360_E2E_KEY ?? '';
export const SCREENSHOTS = resolve(process.env.UT360_E2E_SCREENSHOTS ?? join(here, '..', '..', 'docs', 'screenshots'));
const CHROMIUM = process.env.UT360_CHROMIUM ?? '/usr/bin/chromium';

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Debian's Chromium, headless, with a fresh profile that is deleted afterwards. */
export async function launch(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'ut360-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: DESKTOP,
    locale: 'vi-VN',
    timezoneId: 'Asia/Ho_Chi_Minh',
    acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A page of the app; with a key it is already in sessionStorage, as after the key dialog. */
export async function openApp(context: BrowserContext, hash = '#/360', key: string | null = API_KEY): Promise<Page> {
  const page = await context.newPage();
  if (key !== null) {
    await page.addInitScript(k => { sessionStorage.setItem('ut360.apiKey', k); }, key);
  }
  await page.goto(`${BASE_URL}/${hash}`);
  return page;
}

export async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), animations: 'disabled' });
}

/** The API itself, for the values the screens must show. */
export async function apiGet<T>(path: string): Promise<T> {
  const res = await fetch(`${BASE_URL}${path}`, { headers: { 'X-Api-Key': API_KEY, Accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${path} → ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The demo ISDN key (Ut360.Data IsdnCipher.DemoKeyHex): turns a generated ISDN back into its phone number. */
export function msisdnOf(isdn: string, keyHex = process.env.UT360_E2E_ISDN_KEY ?? '5554333630446576656c6f704b657921'): string {
  const key = Buffer.from(keyHex, 'hex');
  const d = createDecipheriv(`aes-${key.length * 8}-ecb`, key, null);
  return Buffer.concat([d.update(Buffer.from(isdn, 'base64')), d.final()]).toString('ascii');
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// Evaluated through the DevTools protocol, which the UI's Content-Security-Policy (script-src
// 'self', no inline scripts) does not govern; an injected <script> tag would be refused.
const AXE_SOURCE = readFileSync(join(here, '..', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/**
 * axe-core (WCAG 2.1 A/AA rules) on the page as it is now: no serious or critical violation.
 * The message names each rule and the first elements it found.
 */
export async function expectAccessible(page: Page, where: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const w = window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } };
    const r = await w.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }, resultTypes: ['violations'] });
    return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }));
  });
  const bad = violations.filter(v => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) throw new Error(`axe on ${where}: ${bad.map(v => `${v.id} (${v.impact}: ${v.help}) at ${v.nodes.join(' | ')}`).join('; ')}`);
}
