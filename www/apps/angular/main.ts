// The Angular panel: a zoneless Angular 21 standalone component using `endsession/angular` (injectEndSession:
// state, canEnd, roomLeft and kickAll as signals; injectSessionEnding: the countdown, its seconds left and cancel),
// with its own meeting, made from the seat the page's backend gives it (window.endsessionDemo, see www/js/demo.js).
// The binding has no components, so the button, its confirmation dialog with the end options, the countdown banner
// and the ended screen are this app's own markup, with the binding's words.
import {
  afterRenderEffect,
  Component,
  DestroyRef,
  ElementRef,
  computed,
  effect,
  inject,
  provideZonelessChangeDetection,
  signal,
  viewChild,
} from '@angular/core';
import { bootstrapApplication } from '@angular/platform-browser';
import { initMeeting, ClientError, type Meeting } from 'endsession';
import {
  CANCEL_END,
  cancelledText,
  CONFIRM_TEXT,
  CONFIRM_TEXT_LATER,
  countdownText,
  disabledReason,
  endingNote,
  endingText,
  endLaterLabel,
  endNote,
  injectEndSession,
  injectSessionEnding,
  leaveText,
  LOCK_HINT,
  LOCK_LABEL,
  MAX_MESSAGE_CHARS,
  MESSAGE_LABEL,
} from 'endsession/angular';
import { leaveStateOf } from 'endsession/end-state';
import type { DemoBus, Room, Seat } from '../bus';

const bus = (window as unknown as { endsessionDemo: DemoBus }).endsessionDemo;

@Component({
  selector: 'angular-panel',
  template: `
    <div class="seat">
      <span class="avatar">{{ seat()?.name?.[0] }}</span>
      <span class="who">
        <span class="name" data-testid="angular-name">{{ seat()?.name ?? 'Connecting…' }}</span>
        <span class="sub">{{ role() }}</span>
      </span>
      <span class="pill" data-testid="angular-state" [attr.data-state]="end.state()">{{ label() }}</span>
    </div>
    @if (!end.roomLeft()) {
      <div class="room">
        <p class="meta">
          @if (room().sessionId) {
            <span class="dot"></span>{{ room().count }} in the room · session
            <code data-testid="angular-session">{{ room().sessionId.slice(0, 8) }}</code>
          } @else {
            Connecting…
          }
        </p>
        <ul class="roster" aria-label="In the room">
          @for (n of room().names; track n) {
            <li>
              <span class="mini">{{ n[0] }}</span>{{ n }}
            </li>
          }
        </ul>
        <div class="endsession-ending" [attr.data-state]="bannerState()">
          <div role="status" aria-live="polite" class="endsession-ending-status">
            @if (ending.ending()) {
              <p>{{ endingSentence() }}</p>
              @if (bannerNote(); as note) {
                <figure class="endsession-note">
                  <figcaption>{{ note[0] }}</figcaption>
                  <blockquote>{{ note[1] }}</blockquote>
                </figure>
              }
            } @else if (ending.cancelled(); as c) {
              <p>{{ cancelledText(c.cancelledBy) }}</p>
            }
          </div>
          @if (ending.ending(); as e) {
            <p class="endsession-countdown">
              <time [attr.datetime]="e.endsAt">{{ countdownText(ending.secondsLeft() ?? 0) }}</time>
            </p>
            @if (ending.canCancel()) {
              <button type="button" class="endsession-cancel-end" (click)="cancelEnd()">
                {{ CANCEL_END }}
              </button>
            }
            @if (cancelError()) {
              <p class="endsession-cancel-error" role="alert">{{ cancelError() }}</p>
            }
          }
        </div>
        <div class="endsession" [attr.data-state]="end.state()">
          <button
            #opener
            type="button"
            class="endsession-button"
            [disabled]="!end.canEnd()"
            aria-describedby="angular-reason"
            (click)="open()"
            (focusin)="focusOwed = false"
            (focusout)="focusOwed = !$any($event).relatedTarget"
          >
            End meeting for all
          </button>
          <p
            id="angular-reason"
            class="endsession-reason"
            [attr.data-error]="errorText() ? '' : null"
            aria-live="polite"
          >
            {{ errorText() || reason() }}
          </p>
        </div>
      </div>
    }
    <dialog
      #dialog
      class="endsession-dialog"
      aria-labelledby="angular-confirm-title"
      aria-describedby="angular-confirm-text"
      (keydown)="trap($event)"
    >
      <h2 id="angular-confirm-title">End the meeting for everyone?</h2>
      <p id="angular-confirm-text">{{ later() ? CONFIRM_TEXT_LATER : CONFIRM_TEXT }}</p>
      @if (end.takesEndOptions()) {
        <div class="endsession-options">
          <label for="angular-end-message">{{ MESSAGE_LABEL }}</label>
          <textarea
            #message
            id="angular-end-message"
            class="endsession-message"
            rows="2"
            [attr.maxlength]="MAX_MESSAGE_CHARS"
          ></textarea>
          <label class="endsession-lock">
            <input #lock type="checkbox" aria-describedby="angular-lock-hint" /> {{ LOCK_LABEL }}
          </label>
          <p id="angular-lock-hint" class="endsession-hint">{{ LOCK_HINT }}</p>
        </div>
      }
      <div class="endsession-actions">
        <button #cancel type="button" class="endsession-cancel" (click)="dialog.close()">Cancel</button>
        <button #confirmButton type="button" class="endsession-confirm" (click)="confirm(0)">End now</button>
        @if (later()) {
          <button type="button" class="endsession-later" (click)="confirm(grace)">
            {{ endLaterLabel(grace) }}
          </button>
        }
      </div>
    </dialog>
    @if (ended(); as text) {
      <section class="endsession-ended" role="status" aria-live="polite" [attr.data-state]="end.roomLeft()">
        <h2 #endedTitle tabindex="-1">{{ text[0] }}</h2>
        <p>{{ text[1] }}</p>
        @if (endedNote(); as note) {
          <figure class="endsession-note">
            <figcaption>{{ note[0] }}</figcaption>
            <blockquote>{{ note[1] }}</blockquote>
          </figure>
        }
        <button type="button" class="secondary" (click)="rejoin()">Join again</button>
      </section>
    }
  `,
})
class AngularPanel {
  readonly seat = signal<Seat | null>(null);
  readonly meeting = signal<Meeting | null>(null);
  readonly end = injectEndSession(this.meeting);
  readonly ending = injectSessionEnding(this.meeting);
  readonly grace = bus.graceSeconds;
  /** "End in N s" is offered: the meeting takes end options and the page's countdown is not 0. */
  readonly later = computed(() => this.end.takesEndOptions() && this.grace > 0);
  readonly bannerState = computed(() =>
    this.ending.ending() ? 'ending' : this.ending.cancelled() ? 'cancelled' : 'idle',
  );
  // The sentence is set once per countdown (the status region speaks it); the ticking seconds are apart from it.
  readonly endingSentence = computed(() => {
    const e = this.ending.ending();
    return e ? endingText(e, Math.ceil(e.remainingMs / 1000)) : '';
  });
  readonly bannerNote = computed(() => {
    const e = this.ending.ending();
    return e ? endingNote(e) : null;
  });
  readonly endedNote = computed(() => {
    const left = this.end.leave();
    return left ? endNote(left) : null;
  });
  readonly cancelError = signal('');
  readonly CANCEL_END = CANCEL_END;
  readonly CONFIRM_TEXT = CONFIRM_TEXT;
  readonly CONFIRM_TEXT_LATER = CONFIRM_TEXT_LATER;
  readonly MESSAGE_LABEL = MESSAGE_LABEL;
  readonly LOCK_LABEL = LOCK_LABEL;
  readonly LOCK_HINT = LOCK_HINT;
  readonly MAX_MESSAGE_CHARS = MAX_MESSAGE_CHARS;
  readonly cancelledText = cancelledText;
  readonly countdownText = countdownText;
  readonly endLaterLabel = endLaterLabel;
  readonly room = signal<Room>({ sessionId: '', count: 0, names: [] });
  /**
   * The last end's error: shown until the end state is back to `allowed` after having left it for another state than
   * `ending` (the answer and the state change it brings arrive in either order).
   */
  readonly error = signal<{ text: string; away: boolean } | null>(null);
  readonly errorText = computed(() => this.error()?.text ?? '');
  readonly role = computed(() => (this.seat() ? bus.roleLabel(this.seat()!.role) : ''));
  readonly label = computed(() => bus.label(this.end.state()));
  // Out of the room the ended screen says why; the line under the button stays empty.
  readonly reason = computed(() => (leaveStateOf(this.end.state()) ? '' : disabledReason(this.end.state())));
  readonly ended = computed(() => {
    const left = this.end.leave();
    return left ? leaveText(left) : null;
  });
  readonly dialog = viewChild.required<ElementRef<HTMLDialogElement>>('dialog');
  readonly cancel = viewChild.required<ElementRef<HTMLButtonElement>>('cancel');
  readonly message = viewChild<ElementRef<HTMLTextAreaElement>>('message');
  readonly lock = viewChild<ElementRef<HTMLInputElement>>('lock');
  readonly opener = viewChild<ElementRef<HTMLButtonElement>>('opener');
  readonly endedTitle = viewChild<ElementRef<HTMLElement>>('endedTitle');
  /** The End button lost the focus to nothing (disabled by the end, or removed with the room). */
  focusOwed = false;
  #token = '';
  #offRoom = () => {};

  constructor() {
    const off = bus.follow('angular', (seat) => this.take(seat));
    inject(DestroyRef).onDestroy(() => {
      off();
      this.#offRoom();
      void this.meeting()?.leave();
    });
    // The permission went away (or the room was left) while asking: close the question.
    effect(() => {
      if (!this.end.canEnd() && this.dialog().nativeElement.open) this.dialog().nativeElement.close();
    });
    // A new countdown, or none: a failed Cancel of another one is not true of it.
    effect(() => {
      this.ending.ending();
      this.cancelError.set('');
    });
    // A reconnect or the permission back: what failed before is not true after.
    effect(() => {
      const error = this.error();
      const state = this.end.state();
      if (!error) return;
      if (state === 'allowed' && error.away) this.error.set(null);
      else if (state !== 'allowed' && state !== 'ending' && !error.away)
        this.error.set({ ...error, away: true });
    });
    // The End button had the focus (still has it, disabled, or lost it to nothing) and goes with the room: the ended
    // screen's title takes it, once, as it appears. Not when the focus was elsewhere: the page has other panels.
    let focused = false;
    afterRenderEffect(() => {
      const title = this.endedTitle()?.nativeElement;
      if (!title) focused = false;
      else if (!focused) {
        focused = true;
        const active = document.activeElement;
        const nowhere = !active || active === document.body;
        if (active === this.opener()?.nativeElement || (this.focusOwed && nowhere)) title.focus();
        this.focusOwed = false;
      }
    });
  }

  async take(seat: Seat) {
    this.seat.set(seat);
    if (seat.token === this.#token) return;
    this.#token = seat.token;
    this.#offRoom();
    void this.meeting()?.leave();
    const meeting = await initMeeting({ authToken: seat.token, baseURI: seat.baseURI });
    if (this.#token !== seat.token) return void meeting.leave();
    bus.meetings['angular'] = meeting;
    this.error.set(null);
    this.meeting.set(meeting);
    this.#offRoom = bus.room(meeting, (room) => this.room.set(room));
    await meeting.join().catch(() => {}); // a refused join shows as the `rejected` state
  }

  open() {
    if (!this.end.canEnd()) return;
    this.error.set(null);
    const dialog = this.dialog().nativeElement;
    dialog.showModal();
    this.cancel().nativeElement.focus();
    dialog.addEventListener('close', () => this.opener()?.nativeElement.focus(), { once: true });
  }

  /** Tab and Shift+Tab stay inside the dialog. */
  trap(event: KeyboardEvent) {
    if (event.key !== 'Tab') return;
    const items = [...this.dialog().nativeElement.querySelectorAll<HTMLElement>('button, textarea, input')];
    const [first, last] = [items[0], items[items.length - 1]];
    const active = document.activeElement;
    if (event.shiftKey && active === first) {
      event.preventDefault();
      last?.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first?.focus();
    }
  }

  async confirm(graceSeconds: number) {
    this.dialog().nativeElement.close();
    const message = this.message()?.nativeElement;
    const lock = this.lock()?.nativeElement;
    const text = message?.value.trim() ?? '';
    try {
      await this.end.kickAll(
        this.end.takesEndOptions()
          ? {
              ...(text && { message: text }),
              ...(lock?.checked && { lock: true }),
              ...(graceSeconds > 0 && { graceSeconds }),
            }
          : undefined,
      );
      if (message) message.value = '';
      if (lock) lock.checked = false;
    } catch (e) {
      const text = e instanceof ClientError ? `${e.code}: ${e.message}` : String(e);
      this.error.set({ text, away: false });
    }
  }

  async cancelEnd() {
    this.cancelError.set('');
    try {
      await this.ending.cancel();
    } catch (e) {
      this.cancelError.set(e instanceof ClientError ? `${e.code}: ${e.message}` : String(e));
    }
  }

  rejoin() {
    void bus.rejoin('angular');
  }
}

bootstrapApplication(AngularPanel, { providers: [provideZonelessChangeDetection()] });
