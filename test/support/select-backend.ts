// Selects the backend that RPT_BACKEND asks for, names it with the reason, and destroys it.
import { selectBackend } from '../../src/backend/select.ts';

const { backend, reason } = await selectBackend();
console.log(`chose ${backend.name}: ${reason}\n${backend.description}`);
backend.destroy();
