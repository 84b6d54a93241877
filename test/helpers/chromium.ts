// Debian's Chromium, headless, driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
// the browser reads commands on fd 3 and writes replies and events on fd 4, each a JSON text ended by
// NUL). No network, a fresh profile in a temporary folder that close() removes, no sandbox (root).
// Tests use it to evaluate script in a report, move the mouse over it and take screenshots.

import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

const CHROMIUM = '/usr/bin/chromium';

type Reply = { id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string };

export class Browser {
  private next = 1;
  private waiting = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private listeners: ((m: Reply) => void)[] = [];
  private exited: Promise<void>;

  private constructor(
    private child: ChildProcess,
    private profile: string,
  ) {
    const input = child.stdio[4] as Readable;
    let buffered = '';
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\0')) >= 0) {
        const m = JSON.parse(buffered.slice(0, end)) as Reply;
        buffered = buffered.slice(end + 1);
        if (m.id !== undefined && this.waiting.has(m.id)) {
          const w = this.waiting.get(m.id)!;
          this.waiting.delete(m.id);
          if (m.error) w.reject(new Error(`chromium: ${m.error.message}`));
          else w.resolve(m.result ?? {});
        } else for (const l of this.listeners) l(m);
      }
    });
    this.exited = new Promise((resolve) => child.on('exit', () => resolve()));
    child.on('exit', () => {
      for (const w of this.waiting.values()) w.reject(new Error('chromium exited'));
      this.waiting.clear();
    });
  }

  static launch(width = 1300, height = 1000): Browser {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cowscope-chromium-'));
    const child = spawn(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--remote-debugging-pipe',
        `--user-data-dir=${profile}`,
        `--window-size=${width},${height}`,
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
    );
    return new Browser(child, profile);
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      // a browser that stops answering fails the test instead of hanging it
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`chromium did not answer ${method} in 60 s`));
      }, 60_000);
      const done = <T>(f: (v: T) => void) => (v: T) => {
        clearTimeout(timer);
        f(v);
      };
      this.waiting.set(id, { resolve: done(resolve), reject: done(reject) });
      (this.child.stdio[3] as Writable).write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  /** The next event of this name (in this session). */
  event(method: string, sessionId?: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      const l = (m: Reply) => {
        if (m.method !== method || (sessionId && m.sessionId !== sessionId)) return;
        this.listeners = this.listeners.filter((x) => x !== l);
        resolve(m.params ?? {});
      };
      this.listeners.push(l);
    });
  }

  /** A new tab showing url, loaded (its scripts ran), with a viewport of width × height CSS pixels. */
  async open(url: string, width = 1300, height = 1000): Promise<Page> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    await this.send('Page.enable', {}, sessionId);
    await this.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false }, sessionId);
    const loaded = this.event('Page.loadEventFired', sessionId);
    await this.send('Page.navigate', { url }, sessionId);
    await loaded;
    return new Page(this, sessionId);
  }

  /** Ends the browser (Browser.close, then SIGKILL if it lingers) and removes its profile. Chromium's
   *  helper processes (zygote, renderers) can outlive the browser by a moment and be reaped by init,
   *  not by us: wait until they are gone, so no test sees them left over. */
  async close(): Promise<void> {
    const helpers = this.child.pid ? descendants(this.child.pid) : [];
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.send('Browser.close').catch(() => undefined);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    for (let waited = 0; waited < 15_000 && helpers.some((pid) => fs.existsSync(`/proc/${pid}`)); waited += 100) await new Promise((r) => setTimeout(r, 100));
    fs.rmSync(this.profile, { recursive: true, force: true });
  }
}

export class Page {
  constructor(
    private browser: Browser,
    private session: string,
  ) {}

  /** The value of a JavaScript expression in the page (JSON-serialisable). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.browser.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, this.session)) as {
      result: { value: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value;
  }

  /** Makes the viewport as tall as the page (scrolled to the top), so every element is in view. */
  async fitViewport(width = 1300): Promise<void> {
    const size = (await this.browser.send('Page.getLayoutMetrics', {}, this.session)) as { cssContentSize: { height: number } };
    await this.browser.send('Emulation.setDeviceMetricsOverride', { width, height: Math.ceil(size.cssContentSize.height), deviceScaleFactor: 1, mobile: false }, this.session);
    await this.evaluate('window.scrollTo(0, 0)');
  }

  /** Moves the mouse to (x, y) in viewport coordinates, as a person would. */
  async mouseMove(x: number, y: number): Promise<void> {
    await this.browser.send('Input.dispatchMouseEvent', { type: 'mouseMoved', x, y }, this.session);
  }

  async click(x: number, y: number): Promise<void> {
    for (const type of ['mousePressed', 'mouseReleased']) await this.browser.send('Input.dispatchMouseEvent', { type, x, y, button: 'left', clickCount: 1 }, this.session);
  }

  /** A PNG of the whole page (or of clip, in page coordinates). */
  async screenshot(file: string, clip?: { x: number; y: number; width: number; height: number }): Promise<void> {
    const size = (await this.browser.send('Page.getLayoutMetrics', {}, this.session)) as { cssContentSize: { width: number; height: number } };
    const area = clip ?? { x: 0, y: 0, width: Math.ceil(size.cssContentSize.width), height: Math.ceil(size.cssContentSize.height) };
    const shot = (await this.browser.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { ...area, scale: 1 } }, this.session)) as { data: string };
    fs.writeFileSync(file, Buffer.from(shot.data, 'base64'));
  }
}

/** Every process below pid (children, their children, …), from /proc. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // ppid is the second field after the parenthesised command, which may itself hold spaces
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    for (const [child, pp] of parent) if (pp === p) (out.push(child), todo.push(child));
  }
  return out;
}
