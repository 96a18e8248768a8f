// A fresh zoneless Angular 21 app using the packed tarball: `endsession` and `endsession/angular`, with types.
// The page gets the server and a participant token in its query: ?server=http://…&token=…
import { Component, provideZonelessChangeDetection, signal } from '@angular/core';
import { bootstrapApplication } from '@angular/platform-browser';
import { initMeeting, type Meeting } from 'endsession';
import { injectEndSession } from 'endsession/angular';

const query = new URLSearchParams(location.search);

@Component({
  selector: 'app-root',
  template: `
    <p data-testid="state">{{ end.state() }}</p>
    <button [disabled]="!end.canEnd()" (click)="end.kickAll()">End meeting for all</button>
    @if (end.roomLeft(); as left) {
      <p data-testid="left">{{ left }}</p>
    }
  `,
})
class App {
  readonly meeting = signal<Meeting | null>(null);
  readonly end = injectEndSession(this.meeting);

  constructor() {
    initMeeting({ authToken: query.get('token')!, baseURI: query.get('server')! }).then((m) => {
      this.meeting.set(m);
      return m.join();
    });
  }
}

bootstrapApplication(App, { providers: [provideZonelessChangeDetection()] });
