/** Moved to the waiting layer (src/wait/advert.ts); kept so that ring code can import it from here. */
export * from '../wait/advert.js';
