/**
 * Which engine runs a model on a card: the first engine the model declares that is installed on
 * this node and supports the card. Pure, so the whole policy is one table test.
 */
import type { Card } from './card.js';

/** The part of an Engine (engines/engine.ts) the choice needs; an Engine satisfies it. */
export interface EngineCandidate {
  readonly name: string;
  supports(card: Card): boolean;
}

/** `skip` is a full sentence for the log line: card, declared engines, and why each did not fit. */
export type EngineChoice = { engine: string } | { skip: string };

export function chooseEngine(
  card: Card,
  declaredEngines: readonly string[],
  available: readonly EngineCandidate[],
): EngineChoice {
  const cardName = `card ${card.id} (${card.type}, ${card.kind})`;
  if (declaredEngines.length === 0) {
    return { skip: `${cardName} skipped: the model declares no engine` };
  }
  const reasons: string[] = [];
  for (const name of declaredEngines) {
    const engine = available.find((e) => e.name === name);
    if (engine === undefined) {
      reasons.push(`${name} is not available on this node`);
    } else if (!engine.supports(card)) {
      reasons.push(`${name} does not support this card`);
    } else {
      return { engine: name };
    }
  }
  const installed = available.length > 0 ? available.map((e) => e.name).join(', ') : 'none';
  return {
    skip:
      `${cardName} skipped: no declared engine fits [${declaredEngines.join(', ')}]: ` +
      `${reasons.join('; ')} (available engines: ${installed})`,
  };
}
