/*
 * kpin: apply image-digest promotions to Kustomize overlays and record
 * them in git. The umbrella header: the version and every module header.
 * Included by the CLI and the tests; library sources include the module
 * headers they need.
 */
#ifndef KPIN_H
#define KPIN_H

#define KPIN_VERSION "0.1.0"

#include "kpin/error.h"
#include "kpin/buf.h"
#include "kpin/xalloc.h"
#include "kpin/file.h"
#include "kpin/grammar.h"
#include "kpin/image.h"
#include "kpin/kust.h"
#include "kpin/diff.h"
#include "kpin/policy.h"
#include "kpin/repo.h"
#include "kpin/request.h"
#include "kpin/sign.h"
#include "kpin/status.h"

#endif
