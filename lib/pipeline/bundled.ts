import * as path from 'node:path';
import { resolveOptional } from '../optional';

/**
 * The demo model's directory: the package taylorseer-dit-digits (in this repository, fixtures/dit-digits
 * linked as a devDependency). It is a separate package so that installing taylorseer for the hook does
 * not download 15 MB of ONNX files; ERR_DEPENDENCY says how to install it when it is missing.
 */
export function bundledModelDir(): string {
  return path.dirname(resolveOptional('taylorseer-dit-digits', 'model.json', 'the demo model'));
}
