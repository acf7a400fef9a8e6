#!/usr/bin/env node
// chart_check.js — checks of the Helm chart k8s/tfdrift-falco that need no
// cluster and no helm binary (tests/integration/test_deploy_helm.sh).
//
//   node chart_check.js values SCHEMA VALUES.yaml [OVERLAY.yaml...]
//       values.yaml valid against values.schema.json (ajv, draft-07, every
//       error with its path), then each overlay merged over it as helm does;
//       exit 1 if any is not
//   node chart_check.js paths SCHEMA TEMPLATES_DIR     every .Values.a.b path
//       a template uses exists in the schema; exit 1 naming the file:line of
//       each that does not
//   node chart_check.js balance TEMPLATES_DIR          every if/range/with/
//       define has its end and every {{ is closed (what helm's parser would
//       refuse first; helm itself is not on this machine)
//   node chart_check.js described SCHEMA               every property of the
//       schema has a description (the schema is the values' reference)
//   node chart_check.js rendered < MANIFESTS           helm template output:
//       kinds per process, StatefulSets with claims for ingest and
//       persistence, the full securityContext on every container
//   node chart_check.js get FILE.yaml PATH             prints the value at
//       PATH (dot-separated, [n] for list items) as JSON
'use strict';

const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');
const YAML = require('yaml');

function readYaml(file) {
	const text = fs.readFileSync(file, 'utf8');
	const docs = YAML.parseAllDocuments(text);
	for (const d of docs) {
		if (d.errors.length > 0) {
			const e = d.errors[0];
			const line = e.linePos ? e.linePos[0].line : '?';
			throw new Error(`${file}:${line}: ${e.message.split('\n')[0]}`);
		}
	}
	return docs.map((d) => d.toJS());
}

// Helm's coalescing of a -f file over the chart's values.yaml: maps merge key
// by key, anything else (lists too) is replaced, null deletes the key.
function merge(base, over) {
	if (over === null || typeof over !== 'object' || Array.isArray(over) ||
	    base === null || typeof base !== 'object' || Array.isArray(base))
		return over;
	const out = { ...base };
	for (const [k, v] of Object.entries(over)) {
		if (v === null) delete out[k];
		else out[k] = merge(base[k], v);
	}
	return out;
}

// values SCHEMA BASE [OVERLAY...]: BASE alone, then BASE with each OVERLAY
// over it (what `helm install -f OVERLAY` validates).
function cmdValues(schemaFile, files) {
	const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
	const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
	const validate = ajv.compile(schema);
	let bad = 0;
	let base = null;
	for (const f of files) {
		let v;
		try {
			v = readYaml(f)[0] || {};
		} catch (e) {
			console.log(`${e.message}`);
			bad++;
			continue;
		}
		if (base === null) base = v;
		else v = merge(base, v);
		if (validate(v)) {
			console.log(`valid: ${f}`);
			continue;
		}
		bad++;
		for (const e of validate.errors) {
			let what = e.message;
			if (e.keyword === 'additionalProperties')
				what = `unknown key '${e.params.additionalProperty}'`;
			console.log(`${f}: ${e.instancePath || '/'}: ${what}`);
		}
	}
	process.exit(bad === 0 ? 0 : 1);
}

// The schema node for key under node, or null.  A map (additionalProperties
// an object or true) accepts any key.
function child(node, key) {
	if (!node || node.type !== 'object') return null;
	if (node.properties && Object.prototype.hasOwnProperty.call(node.properties, key))
		return node.properties[key];
	if (node.additionalProperties && typeof node.additionalProperties === 'object')
		return node.additionalProperties;
	if (node.additionalProperties === true) return { type: 'object', additionalProperties: true };
	return null;
}

function cmdPaths(schemaFile, dir) {
	const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
	const re = /\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g;
	let bad = 0;
	let n = 0;
	for (const name of fs.readdirSync(dir).sort()) {
		const file = path.join(dir, name);
		if (!fs.statSync(file).isFile()) continue;
		const lines = fs.readFileSync(file, 'utf8').split('\n');
		lines.forEach((line, i) => {
			let m;
			while ((m = re.exec(line)) !== null) {
				n++;
				const keys = m[1].slice(1).split('.');
				let node = schema;
				for (let k = 0; k < keys.length; k++) {
					const next = child(node, keys[k]);
					// a leaf of a non-object type (a string used with a
					// template function) ends the walk only at the last key
					if (next === null) {
						console.log(`${file}:${i + 1}: .Values.${keys.join('.')}: '${keys.slice(0, k + 1).join('.')}' is not in values.schema.json`);
						bad++;
						break;
					}
					node = next;
				}
			}
		});
	}
	console.log(`${n} .Values references checked`);
	process.exit(bad === 0 ? 0 : 1);
}

// Every {{ if|range|with|define }} has its {{ end }}, and every action is
// closed: what a template parser would refuse first (helm is not here).
function cmdBalance(dir) {
	let bad = 0;
	for (const name of fs.readdirSync(dir).sort()) {
		const file = path.join(dir, name);
		if (!fs.statSync(file).isFile()) continue;
		const text = fs.readFileSync(file, 'utf8').replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g,
			(c) => c.replace(/[^\n]/g, ' '));
		const stack = [];
		const re = /\{\{-?\s*([\s\S]*?)\s*-?\}\}/g;
		let m;
		let last = 0;
		const lineOf = (i) => text.slice(0, i).split('\n').length;
		while ((m = re.exec(text)) !== null) {
			if (text.slice(last, m.index).includes('{{')) {
				console.log(`${file}:${lineOf(last)}: an action is not closed`);
				bad++;
			}
			last = re.lastIndex;
			const word = m[1].split(/\s+/)[0];
			if (['if', 'range', 'with', 'define', 'block'].includes(word)) stack.push([word, lineOf(m.index)]);
			else if (word === 'end') {
				if (stack.length === 0) {
					console.log(`${file}:${lineOf(m.index)}: {{ end }} without an opening action`);
					bad++;
				} else stack.pop();
			} else if (word === 'else' && stack.length === 0) {
				console.log(`${file}:${lineOf(m.index)}: {{ else }} outside if/range/with`);
				bad++;
			}
		}
		if (text.slice(last).includes('{{')) {
			console.log(`${file}:${lineOf(last)}: an action is not closed`);
			bad++;
		}
		for (const [w, l] of stack) {
			console.log(`${file}:${l}: {{ ${w} }} has no {{ end }}`);
			bad++;
		}
	}
	process.exit(bad === 0 ? 0 : 1);
}

function cmdDescribed(schemaFile) {
	const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
	let bad = 0;
	const walk = (node, where) => {
		if (!node || typeof node !== 'object') return;
		for (const [k, v] of Object.entries(node.properties || {})) {
			if (!v.description) {
				console.log(`${where}${k}: no description`);
				bad++;
			}
			walk(v, `${where}${k}.`);
		}
		if (node.items) walk(node.items, `${where}[].`);
	};
	walk(schema, '');
	process.exit(bad === 0 ? 0 : 1);
}

function cmdRendered() {
	const docs = YAML.parseAllDocuments(fs.readFileSync(0, 'utf8'))
		.map((d) => d.toJS())
		.filter((d) => d && d.kind);
	const problems = [];
	const by = (kind) => docs.filter((d) => d.kind === kind);
	const comp = (d) => ((d.metadata || {}).labels || {})['app.kubernetes.io/component'];
	const sts = by('StatefulSet');
	for (const want of ['ingest', 'persistence']) {
		const s = sts.find((d) => comp(d) === want);
		if (!s) problems.push(`no StatefulSet for ${want}`);
		else if (!(s.spec.volumeClaimTemplates || []).some((v) => v.metadata.name === 'data'))
			problems.push(`StatefulSet ${want} has no volumeClaimTemplate "data"`);
	}
	for (const want of ['state-loader', 'correlator', 'api-gateway', 'notifier'])
		if (!by('Deployment').some((d) => comp(d) === want)) problems.push(`no Deployment for ${want}`);
	for (const w of [...sts, ...by('Deployment')]) {
		const pod = w.spec.template.spec;
		for (const c of pod.containers) {
			const sc = c.securityContext || {};
			if (sc.readOnlyRootFilesystem !== true) problems.push(`${w.metadata.name}: root FS not read-only`);
			if (sc.allowPrivilegeEscalation !== false) problems.push(`${w.metadata.name}: privilege escalation allowed`);
			if (!((sc.capabilities || {}).drop || []).includes('ALL')) problems.push(`${w.metadata.name}: capabilities not dropped`);
			if (((sc.seccompProfile || pod.securityContext.seccompProfile) || {}).type !== 'RuntimeDefault')
				problems.push(`${w.metadata.name}: no RuntimeDefault seccomp`);
			if (!c.readinessProbe || !c.livenessProbe) problems.push(`${w.metadata.name}: probes missing`);
		}
		if (pod.securityContext.runAsNonRoot !== true) problems.push(`${w.metadata.name}: may run as root`);
	}
	for (const s of by('Service'))
		if (['ingest', 'persistence'].includes(comp(s)) && s.spec.clusterIP === 'None' && s.spec.publishNotReadyAddresses !== true)
			problems.push(`${s.metadata.name}: headless bus Service without publishNotReadyAddresses`);
	for (const np of by('NetworkPolicy'))
		for (const rule of np.spec.ingress || [])
			if (!rule.from || rule.from.length === 0) problems.push(`${np.metadata.name}: a rule without "from" admits everyone`);
	for (const p of problems) console.log(p);
	console.log(`${docs.length} objects: ${[...new Set(docs.map((d) => d.kind))].sort().join(', ')}`);
	process.exit(problems.length === 0 ? 0 : 1);
}

function cmdGet(file, p) {
	let v = readYaml(file)[0];
	for (const part of p.split('.')) {
		const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
		if (m[1] !== '') v = v == null ? undefined : v[m[1]];
		for (const idx of (m[2].match(/\d+/g) || [])) v = v == null ? undefined : v[Number(idx)];
	}
	console.log(JSON.stringify(v === undefined ? null : v));
}

const [cmd, ...args] = process.argv.slice(2);
try {
	switch (cmd) {
	case 'values': cmdValues(args[0], args.slice(1)); break;
	case 'paths': cmdPaths(args[0], args[1]); break;
	case 'described': cmdDescribed(args[0]); break;
	case 'balance': cmdBalance(args[0]); break;
	case 'rendered': cmdRendered(); break;
	case 'get': cmdGet(args[0], args[1]); break;
	default:
		console.error('usage: chart_check.js values|paths|described|rendered|get ...');
		process.exit(2);
	}
} catch (e) {
	console.log(e.message);
	process.exit(1);
}
