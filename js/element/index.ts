/**
 * `endsession/element`: custom elements for any page, no framework. Importing the module defines them.
 *
 * - `<end-meeting-button>`: "End meeting for all", disabled with a visible reason unless the end state is
 *   `allowed`; asks for confirmation in a modal dialog (focus trapped, Esc cancels) and then ends the session.
 *   Fires `endsession-ended` `{detail: result}` and `endsession-error` `{detail: error}`.
 * - `<meeting-ended-screen>`: not displayed while in the room (no `state` attribute); once left, a title and message
 *   for the leave state and its reason (`leaveText`: ended for everyone, ended because everyone left, `kicked`,
 *   `left`, `rejected` with the server's why, `failed`) and whatever children it has (e.g. a "Join again" button).
 *   The reason is in a `reason` attribute (`HOST_ENDED_MEETING`, `ALL_PARTICIPANTS_LEFT`) once ended. As it
 *   appears it takes the keyboard focus (its title) if the same meeting's End button had it.
 *
 * Both take the meeting as a property (`.meeting`), ours or a RealtimeKit one, and reflect the state in a `state`
 * attribute. The property may be set before this module is imported (before the element is upgraded): the element
 * takes it over. Style them with `::part(button|reason|dialog|title|text|confirm|cancel|screen|message)` and the
 * custom properties `--endsession-danger`, `--endsession-danger-text`, `--endsession-surface`,
 * `--endsession-text`, `--endsession-muted`, `--endsession-radius`, `--endsession-font`.
 *
 * @example
 * import 'endsession/element';
 * document.querySelector('end-meeting-button').meeting = meeting;
 * document.querySelector('meeting-ended-screen').meeting = meeting;
 *
 * @module
 */
import { type EndStateSource, endStateSource } from '../end-state/index.js';
import type { AnyMeeting } from '../index.js';
import { openModal, takeEndFocus, trackEndFocus, trapTab } from '../ui/dialog.js';
import {
  CANCEL,
  CONFIRM,
  CONFIRM_TEXT,
  CONFIRM_TITLE,
  disabledReason,
  LABEL,
  leaveText,
} from '../ui/text.js';

// Without a DOM (Node, server-side rendering) the module still imports; nothing is defined.
const Base = (globalThis.HTMLElement ?? class {}) as typeof HTMLElement;

const COMMON = `
:host { font-family: var(--endsession-font, inherit); color: var(--endsession-text, inherit); }
:host([hidden]) { display: none; }
button { font: inherit; border-radius: var(--endsession-radius, 10px); padding: .6em 1.1em; cursor: pointer;
  border: 1px solid transparent; }
button:focus-visible { outline: 2px solid var(--endsession-focus, #4f8cff); outline-offset: 2px; }
`;

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
    if (this.source && this.isConnected) this.#off = this.source.subscribe(() => this.render());
    this.render();
  }

  protected abstract render(): void;
}

/** `<end-meeting-button>`: see the module docs. The default slot replaces the label. */
export class EndMeetingButtonElement extends MeetingElement {
  readonly #button: HTMLButtonElement;
  readonly #reason: HTMLElement;
  readonly #dialog: HTMLDialogElement;
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
</style>
<button part="button" type="button" aria-describedby="reason"><slot>${LABEL}</slot></button>
<p part="reason" id="reason" aria-live="polite"></p>
<dialog part="dialog" aria-labelledby="title" aria-describedby="text">
  <h2 part="title" id="title">${CONFIRM_TITLE}</h2>
  <p part="text" id="text">${CONFIRM_TEXT}</p>
  <div class="actions"><button part="cancel" type="button">${CANCEL}</button>
  <button part="confirm" type="button">${CONFIRM}</button></div>
</dialog>`;
    const part = <T extends HTMLElement>(name: string) => root.querySelector(`[part=${name}]`) as T;
    this.#button = part('button');
    this.#reason = part('reason');
    this.#dialog = part('dialog');
    this.#button.addEventListener('click', () => this.open());
    this.#dialog.addEventListener('keydown', trapTab);
    part('cancel').addEventListener('click', () => this.#dialog.close());
    part('confirm').addEventListener('click', () => this.#confirm());
    // The host holds the document's focus for the button inside; the end may take it away (see ../ui/dialog.ts).
    trackEndFocus(this, () => this.source);
  }

  /** Opens the confirmation dialog, if ending is allowed now. */
  open(): void {
    if (this.source?.state !== 'allowed') return;
    this.#failed = null;
    delete this.#reason.dataset.error;
    this.#reason.textContent = '';
    openModal(this.#dialog, this.shadowRoot!.querySelector('[part=cancel]'), this.#button);
  }

  async #confirm(): Promise<void> {
    this.#dialog.close();
    const source = this.source;
    if (!source) return;
    try {
      const result = await source.kickAll();
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
  }
}

/** `<meeting-ended-screen>`: see the module docs. Children are shown under the message. */
export class MeetingEndedScreenElement extends MeetingElement {
  readonly #title: HTMLElement;
  readonly #message: HTMLElement;

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
  <h2 part="title" tabindex="-1"></h2><p part="message"></p><slot></slot>
</section>`;
    this.#title = root.querySelector('[part=title]')!;
    this.#message = root.querySelector('[part=message]')!;
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
    // The End button that had the focus is disabled or hidden with the room: the screen takes it.
    if (appears && this.isConnected && this.source) takeEndFocus(this.source, this.#title);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'end-meeting-button': EndMeetingButtonElement;
    'meeting-ended-screen': MeetingEndedScreenElement;
  }
}

if (globalThis.customElements && !customElements.get('end-meeting-button')) {
  customElements.define('end-meeting-button', EndMeetingButtonElement);
  customElements.define('meeting-ended-screen', MeetingEndedScreenElement);
}
