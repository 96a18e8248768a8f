/**
 * `endsession/element`: custom elements for any page, no framework. Importing the module defines them.
 *
 * - `<end-meeting-button>`: "End meeting for all", disabled with a visible reason unless the end state is
 *   `allowed`; asks for confirmation in a modal dialog (focus trapped, Esc cancels) and then ends the session. For a
 *   meeting from `initMeeting()` the dialog offers an optional message to everyone (at most 500 characters), "Lock
 *   the meeting", "End now" and "End in N s" (a countdown everyone sees; N from the `grace-seconds` attribute or
 *   `graceSeconds` property, 30 by default, 0 for no countdown); for a RealtimeKit meeting, "End now" only.
 *   Fires `endsession-ended` `{detail: result}` (`result.endsAt` set when a countdown started) and
 *   `endsession-error` `{detail: error}`.
 * - `<session-ending-banner>`: while a countdown runs, who is ending the session and in how long (announced once to
 *   screen readers), the seconds left, their message, and "Cancel the end" for a participant with
 *   `kick_participant`; after a cancel, who cancelled it. A `state` attribute: `idle` (nothing displayed),
 *   `ending`, `cancelled`. Fires `endsession-error` when its Cancel fails.
 * - `<meeting-ended-screen>`: not displayed while in the room (no `state` attribute); once left, a title and message
 *   for the leave state and its reason (`leaveText`: who ended it for everyone, ended because everyone left or no
 *   host was left, `kicked`, `left`, `rejected` with the server's why, `failed`), the message of whoever ended it,
 *   and whatever children it has (e.g. a "Join again" button). The reason is in a `reason` attribute
 *   (`HOST_ENDED_MEETING`, `ALL_PARTICIPANTS_LEFT`, `NO_HOST`) once ended. As it appears it takes the keyboard focus
 *   (its title) if the same meeting's End button had it.
 *
 * All take the meeting as a property (`.meeting`), ours or a RealtimeKit one, and reflect the state in a `state`
 * attribute. The property may be set before this module is imported (before the element is upgraded): the element
 * takes it over. Style them with `::part(button|reason|dialog|title|text|options|message|lock|hint|confirm|later|
 * cancel|screen|note|banner|status|countdown|cancel-end|error)` and the custom properties `--endsession-danger`,
 * `--endsession-danger-text`, `--endsession-surface`, `--endsession-text`, `--endsession-muted`,
 * `--endsession-radius`, `--endsession-font`, `--endsession-warning`.
 *
 * @example
 * import 'endsession/element';
 * document.querySelector('end-meeting-button').meeting = meeting;
 * document.querySelector('session-ending-banner').meeting = meeting;
 * document.querySelector('meeting-ended-screen').meeting = meeting;
 *
 * @module
 */
import { type EndStateSource, endStateSource } from '../end-state/index.js';
import type { AnyMeeting } from '../index.js';
import { openModal, takeEndFocus, trackEndFocus, trapTab } from '../ui/dialog.js';
import { type EndingSource, endingSource, endOptions, takesEndOptions } from '../ui/ending.js';
import {
  CANCEL,
  CANCEL_END,
  cancelledText,
  CONFIRM,
  CONFIRM_TEXT,
  CONFIRM_TEXT_LATER,
  CONFIRM_TITLE,
  countdownText,
  disabledReason,
  endingNote,
  endingText,
  endLaterLabel,
  endNote,
  LABEL,
  leaveText,
  LOCK_HINT,
  LOCK_LABEL,
  MAX_MESSAGE_CHARS,
  MESSAGE_LABEL,
  secondsLeft,
} from '../ui/text.js';

// Without a DOM (Node, server-side rendering) the module still imports; nothing is defined.
const Base = (globalThis.HTMLElement ?? class {}) as typeof HTMLElement;

const COMMON = `
:host { font-family: var(--endsession-font, inherit); color: var(--endsession-text, inherit); }
:host([hidden]) { display: none; }
button { font: inherit; border-radius: var(--endsession-radius, 10px); padding: .6em 1.1em; cursor: pointer;
  border: 1px solid transparent; }
button:focus-visible { outline: 2px solid var(--endsession-focus, #4f8cff); outline-offset: 2px; }
[part=note] { margin: 0 0 1.2em; }
[part=note] figcaption { font-size: .85em; color: var(--endsession-muted, #6b7280); }
[part=note] blockquote { margin: .2em 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
`;

/** The message of whoever ended (or is ending) the session: a caption saying from whom, and the text. */
const NOTE = `<figure part="note" hidden><figcaption></figcaption><blockquote></blockquote></figure>`;

/** Shows `note` (`[from, text]`) in a {@link NOTE} figure, or hides it. */
function showNote(figure: HTMLElement, note: [string, string] | null): void {
  figure.hidden = !note;
  [figure.firstElementChild!.textContent, figure.lastElementChild!.textContent] = note ?? ['', ''];
}

/** Base of both elements: holds the meeting and follows its end state while connected. */
abstract class MeetingElement extends Base {
  #meeting: AnyMeeting | null = null;
  #off: (() => void) | undefined;
  protected source: EndStateSource | null = null;

  get meeting(): AnyMeeting | null {
    return this.#meeting;
  }
  set meeting(meeting: AnyMeeting | null) {
    this.#meeting = meeting ?? null;
    this.#follow();
  }

  /** The public properties a page may set before the upgrade. */
  static readonly properties: readonly string[] = ['meeting'];

  connectedCallback(): void {
    // The "upgrade property" pattern (web.dev, custom element best practices): a value set on the element before
    // its class was defined is an own property that hides the accessor; take it over through the setter. Here and
    // not in the constructor: the subclass's shadow parts, which the setter renders, do not exist yet there.
    for (const name of MeetingElement.properties) {
      if (Object.prototype.hasOwnProperty.call(this, name)) {
        const own = this as unknown as Record<string, unknown>;
        const value = own[name];
        delete own[name];
        own[name] = value;
      }
    }
    this.#follow();
  }
  disconnectedCallback(): void {
    this.#off?.();
    this.#off = undefined;
  }

  #follow(): void {
    this.#off?.();
    this.#off = undefined;
    this.source = this.#meeting ? endStateSource(this.#meeting) : null;
    if (this.source && this.isConnected) {
      const offState = this.source.subscribe(() => this.render());
      const offMore = this.follow(this.#meeting!);
      this.#off = () => (offState(), offMore?.());
    }
    this.render();
  }

  /** What else to follow of `meeting` while connected (calling `render`); returns the function that stops. */
  protected follow(_meeting: AnyMeeting): (() => void) | undefined {
    return undefined;
  }

  protected abstract render(): void;
}

/** `<end-meeting-button>`: see the module docs. The default slot replaces the label. */
export class EndMeetingButtonElement extends MeetingElement {
  readonly #button: HTMLButtonElement;
  readonly #reason: HTMLElement;
  readonly #dialog: HTMLDialogElement;
  readonly #options: HTMLElement;
  readonly #text: HTMLElement;
  readonly #message: HTMLTextAreaElement;
  readonly #lock: HTMLInputElement;
  readonly #later: HTMLButtonElement;
  /** The last end's error, and whether the state has left `allowed` for another than `ending` since. */
  #failed: { text: string; away: boolean } | null = null;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>${COMMON}
:host { display: inline-flex; flex-direction: column; gap: .4em; }
[part=button], [part=confirm] { background: var(--endsession-danger, #d13438);
  color: var(--endsession-danger-text, #fff); font-weight: 600; }
[part=button]:disabled { opacity: .45; cursor: not-allowed; }
[part=reason] { margin: 0; font-size: .85em; color: var(--endsession-muted, #6b7280); min-height: 1.2em; }
[part=reason][data-error] { color: var(--endsession-error, var(--endsession-danger, #d13438)); }
[part=dialog] { background: var(--endsession-surface, #fff); color: var(--endsession-text, #111);
  border: 0; border-radius: calc(var(--endsession-radius, 10px) * 1.6); padding: 1.5em; max-width: 26em;
  box-shadow: 0 20px 60px rgb(0 0 0 / .35); }
[part=dialog]::backdrop { background: rgb(0 0 0 / .5); }
[part=title] { margin: 0 0 .5em; font-size: 1.15em; }
[part=text] { margin: 0 0 1.2em; color: var(--endsession-muted, #6b7280); }
.actions { display: flex; gap: .6em; justify-content: flex-end; }
[part=cancel] { background: transparent; color: inherit; border-color: currentColor; }
[part=later] { background: transparent; color: var(--endsession-danger-strong, #a4262c); border-color: currentColor;
  font-weight: 600; }
[part=options] { display: flex; flex-direction: column; gap: .35em; margin: 0 0 1.2em; }
[part=options][hidden], [part=later][hidden] { display: none; }
[part=message] { font: inherit; padding: .5em; border-radius: calc(var(--endsession-radius, 10px) * .6);
  border: 1px solid var(--endsession-muted, #6b7280); background: transparent; color: inherit; resize: vertical; }
[part=lock] { display: flex; gap: .5em; align-items: center; margin-top: .4em; }
[part=hint] { margin: 0; font-size: .85em; color: var(--endsession-muted, #6b7280); }
</style>
<button part="button" type="button" aria-describedby="reason"><slot>${LABEL}</slot></button>
<p part="reason" id="reason" aria-live="polite"></p>
<dialog part="dialog" aria-labelledby="title" aria-describedby="text">
  <h2 part="title" id="title">${CONFIRM_TITLE}</h2>
  <p part="text" id="text">${CONFIRM_TEXT}</p>
  <div part="options" hidden>
    <label for="message">${MESSAGE_LABEL}</label>
    <textarea part="message" id="message" rows="2" maxlength="${MAX_MESSAGE_CHARS}"></textarea>
    <label part="lock"><input type="checkbox" aria-describedby="hint" /> ${LOCK_LABEL}</label>
    <p part="hint" id="hint">${LOCK_HINT}</p>
  </div>
  <div class="actions"><button part="cancel" type="button">${CANCEL}</button>
  <button part="confirm" type="button">${CONFIRM}</button>
  <button part="later" type="button" hidden></button></div>
</dialog>`;
    const part = <T extends HTMLElement>(name: string) => root.querySelector(`[part=${name}]`) as T;
    this.#button = part('button');
    this.#reason = part('reason');
    this.#dialog = part('dialog');
    this.#options = part('options');
    this.#text = part('text');
    this.#message = part('message');
    this.#lock = root.querySelector('[part=lock] input')!;
    this.#later = part('later');
    this.#button.addEventListener('click', () => this.open());
    this.#dialog.addEventListener('keydown', trapTab);
    part('cancel').addEventListener('click', () => this.#dialog.close());
    part('confirm').addEventListener('click', () => this.#confirm(0));
    this.#later.addEventListener('click', () => this.#confirm(this.graceSeconds));
    // The host holds the document's focus for the button inside; the end may take it away (see ../ui/dialog.ts).
    trackEndFocus(this, () => this.source);
  }

  static readonly observedAttributes = ['grace-seconds'];

  /**
   * The countdown "End in N s" offers, in whole seconds (the `grace-seconds` attribute; 30 by default; 0 offers no
   * countdown; at most 3600, the server's `MAX_GRACE_SECONDS`).
   */
  get graceSeconds(): number {
    const value = this.getAttribute('grace-seconds');
    const n = value === null || value.trim() === '' ? 30 : Number(value);
    return Number.isSafeInteger(n) && n >= 0 ? n : 30;
  }
  set graceSeconds(value: number) {
    this.setAttribute('grace-seconds', String(value));
  }

  attributeChangedCallback(): void {
    this.render();
  }

  /** Opens the confirmation dialog, if ending is allowed now. */
  open(): void {
    if (this.source?.state !== 'allowed') return;
    this.#failed = null;
    delete this.#reason.dataset.error;
    this.#reason.textContent = '';
    openModal(this.#dialog, this.shadowRoot!.querySelector('[part=cancel]'), this.#button);
  }

  async #confirm(graceSeconds: number): Promise<void> {
    this.#dialog.close();
    const source = this.source;
    const meeting = this.meeting;
    if (!source || !meeting) return;
    const options = takesEndOptions(meeting)
      ? endOptions(this.#message.value, this.#lock.checked, graceSeconds)
      : undefined;
    try {
      const result = await source.kickAll(options);
      this.#message.value = '';
      this.#lock.checked = false;
      this.dispatchEvent(
        new CustomEvent('endsession-ended', { detail: result, bubbles: true, composed: true }),
      );
    } catch (error) {
      this.#failed = {
        text: error instanceof Error ? error.message.split('\n').pop()! : String(error),
        away: false,
      };
      this.render();
      this.dispatchEvent(
        new CustomEvent('endsession-error', { detail: error, bubbles: true, composed: true }),
      );
    }
  }

  protected render(): void {
    if (!this.#button) return;
    const state = this.source?.state ?? 'not-joined';
    this.setAttribute('state', state);
    this.#button.disabled = state !== 'allowed';
    // The last end's error stays until the state is back to `allowed` after having left it for another state than
    // `ending`: the answer and the state change it brings arrive in either order.
    if (this.#failed && state === 'allowed' && this.#failed.away) this.#failed = null;
    else if (this.#failed && state !== 'allowed' && state !== 'ending') this.#failed.away = true;
    if (this.#failed) this.#reason.dataset.error = '';
    else delete this.#reason.dataset.error;
    this.#reason.textContent = this.#failed?.text ?? disabledReason(state);
    if (state !== 'allowed' && this.#dialog.open) this.#dialog.close();
    const options = takesEndOptions(this.meeting);
    const grace = this.graceSeconds;
    this.#options.hidden = !options;
    this.#later.hidden = !options || grace === 0;
    this.#later.textContent = endLaterLabel(grace);
    this.#text.textContent = this.#later.hidden ? CONFIRM_TEXT : CONFIRM_TEXT_LATER;
  }
}

/** `<meeting-ended-screen>`: see the module docs. Children are shown under the message. */
export class MeetingEndedScreenElement extends MeetingElement {
  readonly #title: HTMLElement;
  readonly #message: HTMLElement;
  readonly #note: HTMLElement;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>${COMMON}
:host { display: block; }
:host(:not([state])) { display: none; }
[part=screen] { text-align: center; padding: 2em 1em; }
[part=title] { margin: 0 0 .4em; font-size: 1.3em; }
[part=message] { margin: 0 0 1.2em; color: var(--endsession-muted, #6b7280); }
</style>
<section part="screen" role="status" aria-live="polite">
  <h2 part="title" tabindex="-1"></h2><p part="message"></p>${NOTE}<slot></slot>
</section>`;
    this.#title = root.querySelector('[part=title]')!;
    this.#message = root.querySelector('[part=message]')!;
    this.#note = root.querySelector('[part=note]')!;
  }

  protected render(): void {
    if (!this.#title) return;
    const left = this.source?.leave ?? null;
    const appears = !!left && !this.hasAttribute('state');
    if (left) this.setAttribute('state', left.state);
    else this.removeAttribute('state');
    if (left?.reason) this.setAttribute('reason', left.reason);
    else this.removeAttribute('reason');
    [this.#title.textContent, this.#message.textContent] = left ? leaveText(left) : ['', ''];
    showNote(this.#note, left && endNote(left));
    // The End button that had the focus is disabled or hidden with the room: the screen takes it.
    if (appears && this.isConnected && this.source) takeEndFocus(this.source, this.#title);
  }
}

/** `<session-ending-banner>`: see the module docs. */
export class SessionEndingBannerElement extends MeetingElement {
  readonly #banner: HTMLElement;
  readonly #status: HTMLElement;
  readonly #sentence: HTMLElement;
  readonly #note: HTMLElement;
  readonly #countdown: HTMLTimeElement;
  readonly #cancel: HTMLButtonElement;
  readonly #error: HTMLElement;
  #ending: EndingSource | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>${COMMON}
:host { display: block; }
[part=banner] { border-radius: var(--endsession-radius, 10px); }
:host([state=ending]) [part=banner] { padding: .8em 1em; border: 1px solid var(--endsession-warning, #8a5a00);
  background: var(--endsession-surface, #fff); }
:host([state=cancelled]) [part=banner] { padding: .4em 0; color: var(--endsession-muted, #6b7280); }
[part=status] p { margin: 0 0 .4em; font-weight: 600; }
:host([state=cancelled]) [part=status] p { font-weight: 400; }
[part=countdown] { margin: 0 0 .6em; font-size: 1.4em; font-variant-numeric: tabular-nums; }
[part=countdown][hidden], [part=cancel-end][hidden], [part=error][hidden] { display: none; }
[part=cancel-end] { background: transparent; color: inherit; border-color: currentColor; }
[part=error] { margin: .4em 0 0; font-size: .85em; color: var(--endsession-error, var(--endsession-danger, #d13438)); }
</style>
<div part="banner">
  <div part="status" role="status" aria-live="polite"><p></p>${NOTE}</div>
  <p part="countdown" hidden><time></time></p>
  <button part="cancel-end" type="button" hidden>${CANCEL_END}</button>
  <p part="error" role="alert" hidden></p>
</div>`;
    const part = <T extends HTMLElement>(name: string) => root.querySelector(`[part=${name}]`) as T;
    this.#banner = part('banner');
    this.#status = part('status');
    this.#sentence = this.#status.querySelector('p')!;
    this.#note = part('note');
    this.#countdown = root.querySelector('time')!;
    this.#cancel = part('cancel-end');
    this.#error = part('error');
    this.#cancel.addEventListener('click', () => this.#cancelEnd());
  }

  protected override follow(meeting: AnyMeeting): () => void {
    this.#ending = endingSource(meeting);
    const off = this.#ending.subscribe(() => this.render());
    return () => {
      off();
      this.#tick(false);
    };
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#tick(false);
  }

  async #cancelEnd(): Promise<void> {
    this.#error.hidden = true;
    try {
      await this.#ending?.cancel();
    } catch (error) {
      this.#error.textContent = error instanceof Error ? error.message.split('\n').pop()! : String(error);
      this.#error.hidden = false;
      this.dispatchEvent(
        new CustomEvent('endsession-error', { detail: error, bubbles: true, composed: true }),
      );
    }
  }

  /** Updates the seconds left every 250 ms while a countdown runs (whole seconds: the text changes once a second). */
  #tick(on: boolean): void {
    if (on && this.#timer === undefined) this.#timer = setInterval(() => this.#showSeconds(), 250);
    if (!on && this.#timer !== undefined) this.#timer = void clearInterval(this.#timer);
  }

  #showSeconds(): void {
    const deadline = this.#ending?.deadline;
    if (deadline == null) return;
    const text = countdownText(secondsLeft(deadline));
    if (this.#countdown.textContent !== text) this.#countdown.textContent = text;
  }

  protected render(): void {
    if (!this.#banner) return;
    const source = this.meeting && this.isConnected ? this.#ending : null;
    const ending = source?.ending ?? null;
    const cancelled = !ending ? (source?.cancelled ?? null) : null;
    const state = ending ? 'ending' : cancelled ? 'cancelled' : 'idle';
    if (this.getAttribute('state') !== state) this.#error.hidden = true;
    this.setAttribute('state', state);
    // The sentence is set once per countdown (the status region speaks it); the ticking seconds are apart from it.
    this.#sentence.textContent = ending
      ? endingText(ending, Math.ceil(ending.remainingMs / 1000))
      : cancelled
        ? cancelledText(cancelled.cancelledBy)
        : '';
    showNote(this.#note, ending && endingNote(ending));
    this.#countdown.parentElement!.hidden = !ending;
    if (ending) this.#countdown.dateTime = ending.endsAt;
    this.#showSeconds();
    this.#cancel.hidden = !ending || !source?.canCancel;
    if (!ending) this.#error.hidden = true;
    this.#tick(!!ending);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'end-meeting-button': EndMeetingButtonElement;
    'meeting-ended-screen': MeetingEndedScreenElement;
    'session-ending-banner': SessionEndingBannerElement;
  }
}

if (globalThis.customElements && !customElements.get('end-meeting-button')) {
  customElements.define('end-meeting-button', EndMeetingButtonElement);
  customElements.define('meeting-ended-screen', MeetingEndedScreenElement);
}
if (globalThis.customElements && !customElements.get('session-ending-banner'))
  customElements.define('session-ending-banner', SessionEndingBannerElement);
