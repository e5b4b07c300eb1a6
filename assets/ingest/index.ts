export { channels } from './channels.ts';
export { customerSnapshots } from './customer-snapshots.ts';
export { customers } from './customers.ts';
export { traffic } from './traffic.ts';
