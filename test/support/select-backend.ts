// Creates the backend that RPT_BACKEND asks for, names it and destroys it.
import { createBackend } from '../../src/backend/select.ts';

const backend = await createBackend();
console.log(`chose ${backend.name}`);
backend.destroy();
