// The Angular panel: a zoneless Angular 21 standalone component using `endsession/angular` (injectEndSession:
// state, canEnd, roomLeft and kickAll as signals), with its own meeting, made from the seat the page's backend
// gives it (window.endsessionDemo, see www/js/demo.js). The binding has no components, so the button, its
// confirmation dialog and the ended screen are this app's own markup.
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
import { injectEndSession } from 'endsession/angular';
import { disabledReason, leaveStateOf, leaveText } from 'endsession/end-state';
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
      <p id="angular-confirm-text">
        Every participant leaves now. They can join again and start a new session.
      </p>
      <div class="endsession-actions">
        <button #cancel type="button" class="endsession-cancel" (click)="dialog.close()">Cancel</button>
        <button #confirmButton type="button" class="endsession-confirm" (click)="confirm()">
          End for all
        </button>
      </div>
    </dialog>
    @if (ended(); as text) {
      <section class="endsession-ended" role="status" aria-live="polite" [attr.data-state]="end.roomLeft()">
        <h2 #endedTitle tabindex="-1">{{ text[0] }}</h2>
        <p>{{ text[1] }}</p>
        <button type="button" class="secondary" (click)="rejoin()">Join again</button>
      </section>
    }
  `,
})
class AngularPanel {
  readonly seat = signal<Seat | null>(null);
  readonly meeting = signal<Meeting | null>(null);
  readonly end = injectEndSession(this.meeting);
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
    const items = [...this.dialog().nativeElement.querySelectorAll<HTMLElement>('button')];
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

  async confirm() {
    this.dialog().nativeElement.close();
    try {
      await this.end.kickAll();
    } catch (e) {
      const text = e instanceof ClientError ? `${e.code}: ${e.message}` : String(e);
      this.error.set({ text, away: false });
    }
  }

  rejoin() {
    void bus.rejoin('angular');
  }
}

bootstrapApplication(AngularPanel, { providers: [provideZonelessChangeDetection()] });
