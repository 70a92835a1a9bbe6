/**
 * A QR code as an SVG element, built with DOM calls: the qrcode package
 * computes the modules, this draws them as one <path>. Not its `toString`
 * (markup the page would have to parse with innerHTML) nor `toCanvas` (pixels
 * that blur when zoomed); an SVG built node by node needs nothing the page's
 * strict Content-Security-Policy forbids, and its colours come from the stylesheet.
 */
import { create } from 'qrcode';

const SVG = 'http://www.w3.org/2000/svg';
/** The empty border around the code that scanners need (4 modules, as the QR specification asks). */
const QUIET_ZONE = 4;

export function qrCodeSvg(text: string, label: string): SVGSVGElement {
  // Level M: recovers from 15% damage, and keeps an otpauth URI's code small enough to scan easily.
  const { modules } = create(text, { errorCorrectionLevel: 'M' });
  const size = modules.size;
  const dark: string[] = [];
  for (let row = 0; row < size; row += 1) {
    for (let col = 0; col < size; col += 1) {
      if (modules.get(row, col)) dark.push(`M${col + QUIET_ZONE} ${row + QUIET_ZONE}h1v1h-1z`);
    }
  }
  const side = size + 2 * QUIET_ZONE;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${side} ${side}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.classList.add('qr-code');
  const background = document.createElementNS(SVG, 'rect');
  background.setAttribute('width', String(side));
  background.setAttribute('height', String(side));
  background.classList.add('qr-light');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', dark.join(''));
  path.classList.add('qr-dark');
  svg.append(background, path);
  return svg;
}
