/** The sections run after the netns and vhost-user ones, in order: add a section here. */
import { A2B_SECTION } from './a2bpaths.js';
import { CAPTURE_SECTION } from './capturepaths.js';
import { CONTAINODE_SECTION } from './containodepaths.js';
import { LAB_SECTION } from './labpaths.js';
import { NAT_SECTION } from './natpaths.js';
import { SCALE_SECTION } from './scalepaths.js';
import type { SectionDef } from './section.js';
import { TUNNEL_SECTION } from './tunnelpaths.js';

/** Every later section, in run order. */
export const SECTIONS: SectionDef[] = [NAT_SECTION, A2B_SECTION, CAPTURE_SECTION, TUNNEL_SECTION, CONTAINODE_SECTION, SCALE_SECTION, LAB_SECTION];
