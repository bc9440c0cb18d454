export { LatchkeyConnectComponent, type LatchkeyEvent } from './latchkey-connect.component';
export type { Connection, LatchkeyError, LatchkeyEventData, LatchkeyEventName, LatchkeyOptions } from '@latchkey/core';
