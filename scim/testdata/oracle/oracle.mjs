// Runs third-party SCIM implementations on the cases that scim/oracle_test.go sends on stdin:
// scim-patch 0.8.3 (scimPatch) for PATCH results, SCIMMY 1.3.5 (Types.Filter.match) for
// filter matches, and SCIMMY's schema definitions (coerce "out") to check that answers are
// valid RFC 7643 Users (with the enterprise extension) and Groups. Prints one JSON object with
// a result or an error per case.
import { scimPatch } from "scim-patch";
import SCIMMY from "scimmy";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const cases = JSON.parse(input);

const patch = cases.patch.map(({ resource, ops }) => {
  try {
    const out = scimPatch(structuredClone(resource), ops, { mutateDocument: false, treatMissingAsAdd: true });
    return { result: out };
  } catch (e) {
    return { error: `${e.scimCode ?? e.constructor.name}: ${e.message}` };
  }
});

const filter = cases.filter.map(({ filter, resources }) => {
  try {
    const matched = new SCIMMY.Types.Filter(filter).match(resources.map((r) => structuredClone(r)));
    return { matched: matched.map((r) => r.id) };
  } catch (e) {
    return { error: `${e.constructor.name}: ${e.message}` };
  }
});

const userDef = SCIMMY.Schemas.User.definition.extend(SCIMMY.Schemas.EnterpriseUser.definition);
const validate = (cases.validate ?? []).map(({ type, resource }) => {
  try {
    (type === "Group" ? SCIMMY.Schemas.Group.definition : userDef).coerce(structuredClone(resource), "out");
    return { error: "" };
  } catch (e) {
    return { error: `${e.constructor.name}: ${e.message}` };
  }
});

process.stdout.write(JSON.stringify({ patch, filter, validate }));
