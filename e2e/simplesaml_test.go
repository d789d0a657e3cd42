package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SimpleSAMLphp (Debian package simplesamlphp, 1.19.x) as a real SAML 2.0 identity provider
// for Roster's end-to-end tests, run with PHP's built-in web server on 127.0.0.1. The
// packages are installed by .ci/run: simplesamlphp php-xml php-mbstring php-curl.
const (
	simpleSAMLWWW       = "/usr/share/simplesamlphp/www"
	simpleSAMLStartWait = 30 * time.Second

	samlNameIDEmail  = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	samlAttrNameURI  = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	samlRSASHA256    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	samlBindingPOST  = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	samlNameIDHolder = "roster-e2e:nameid" // internal attribute carrying the NameID; never sent
)

// samlUser is the one user the IdP signs in (StaticSource: no login form).
type samlUser struct {
	NameID     string              // e.g. an email address; sent with NameIDFormat emailAddress
	Attributes map[string][]string // attribute name -> values (multi-valued allowed); names may be URIs or plain
}

// simpleSAML is a running SimpleSAMLphp identity provider.
type simpleSAML struct {
	URL         string // http://127.0.0.1:PORT
	EntityID    string // the IdP entity ID (equal to MetadataURL)
	MetadataURL string // IdP metadata (XML) URL
	SSOURL      string // HTTP-Redirect SSO endpoint
	CertPEM     string // the IdP signing certificate, PEM
}

// startSimpleSAMLphp writes a scratch config under t.TempDir(), trusts one SP (entity ID and
// ACS URL, HTTP-POST binding), and runs `php -S` on a free loopback port until the test ends
// (stopped by PID, never left running). It fails the test (never skips) when php or
// simplesamlphp is missing.
//
// The IdP signs both the Response and the Assertion with rsa-sha256 (fresh key and
// self-signed certificate per call), sends the attributes with NameFormat
// urn:oasis:names:tc:SAML:2.0:attrname-format:uri and the NameID with format emailAddress,
// accepts AuthnRequests over HTTP-Redirect whether or not they are signed (their signature is
// not checked), and answers with an auto-submitting HTML form (HTTP-POST binding) carrying
// SAMLResponse and RelayState to the ACS URL.
func startSimpleSAMLphp(t *testing.T, spEntityID, acsURL string, user samlUser) *simpleSAML {
	t.Helper()
	if spEntityID == "" || acsURL == "" {
		t.Fatal("startSimpleSAMLphp: the SP entity ID and ACS URL are required")
	}
	if user.NameID == "" {
		t.Fatal("startSimpleSAMLphp: samlUser.NameID is required")
	}
	if _, ok := user.Attributes[samlNameIDHolder]; ok {
		t.Fatalf("startSimpleSAMLphp: the attribute name %q is reserved by the harness", samlNameIDHolder)
	}
	php, err := exec.LookPath("php")
	if err != nil {
		t.Fatalf("php is not on PATH: the SAML end-to-end tests need SimpleSAMLphp "+
			"(apt-get install simplesamlphp php-xml php-mbstring php-curl; .ci/run does it): %v", err)
	}
	if _, err := os.Stat(filepath.Join(simpleSAMLWWW, "saml2", "idp", "SSOService.php")); err != nil {
		t.Fatalf("SimpleSAMLphp is not installed at %s (apt-get install simplesamlphp php-xml php-mbstring php-curl; .ci/run does it): %v",
			filepath.Dir(simpleSAMLWWW), err)
	}
	// php-xml and php-mbstring are separate Debian packages; without them SimpleSAMLphp
	// only fails at the first request, with a less helpful message.
	out, err := exec.Command(php, "-r", `foreach (["dom","SimpleXML","mbstring","openssl"] as $e) if (!extension_loaded($e)) echo $e, " ";`).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("php lacks extensions SimpleSAMLphp needs (apt-get install php-xml php-mbstring): missing %q (%v)", strings.TrimSpace(string(out)), err)
	}

	certPEM, keyPEM := samlSelfSignedCert(t)

	// The port is only known to be free a moment ago; another process may take it before
	// php binds it. baseurlpath holds the port, so each attempt writes a fresh config.
	var lastOut string
	for attempt := 0; attempt < 3; attempt++ {
		addr := freeAddr(t)
		idp := &simpleSAML{URL: "http://" + addr, CertPEM: string(certPEM)}
		idp.MetadataURL = idp.URL + "/saml2/idp/metadata.php"
		idp.EntityID = idp.MetadataURL
		idp.SSOURL = idp.URL + "/saml2/idp/SSOService.php"
		root := t.TempDir()
		configDir := writeSimpleSAMLConfig(t, root, idp, spEntityID, acsURL, user, certPEM, keyPEM)
		ok, busy, output := runSimpleSAMLphp(t, php, root, configDir, addr, idp.MetadataURL)
		if ok {
			return idp
		}
		lastOut = output
		if !busy {
			break
		}
	}
	t.Fatalf("SimpleSAMLphp did not start:\n%s", lastOut)
	return nil
}

// runSimpleSAMLphp starts `php -S addr` and polls the metadata URL until it serves the IdP's
// metadata. ok reports success; busy means php could not bind addr (try another port).
// output describes a failure, with php's stdout and stderr.
func runSimpleSAMLphp(t *testing.T, php, root, configDir, addr, metadataURL string) (ok, busy bool, output string) {
	t.Helper()
	tmp := filepath.Join(root, "tmp")
	sessions := filepath.Join(root, "sessions")
	cmd := exec.Command(php,
		"-d", "session.save_path="+sessions,
		"-d", "sys_temp_dir="+tmp,
		"-d", "upload_tmp_dir="+tmp,
		"-d", "session.gc_probability=0",
		// PHP notices go to php's stderr (our buffer), never into a page or the SAML XML.
		"-d", "display_errors=0",
		"-d", "log_errors=1",
		"-S", addr, "-t", simpleSAMLWWW)
	var env []string
	for _, kv := range childEnv() {
		// PHP_CLI_SERVER_WORKERS would make php -S fork workers that outlive a kill of the PID.
		if !strings.HasPrefix(kv, "PHP_CLI_SERVER_WORKERS=") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "SIMPLESAMLPHP_CONFIG_DIR="+configDir, "TMPDIR="+tmp)
	cmd.Dir = root
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start php -S: %v", err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	logs := func() string {
		return fmt.Sprintf("php stdout:\n%s\nphp stderr:\n%s", stdout, stderr)
	}

	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(simpleSAMLStartWait)
	var last string
	for {
		select {
		case <-done:
			busy = strings.Contains(stderr.String(), "Address already in use")
			return false, busy, fmt.Sprintf("php -S %s exited before it was ready (%v)\n%s", addr, waitErr, logs())
		default:
		}
		resp, err := client.Get(metadataURL)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			// The entity ID (= metadata URL) proves it is this IdP, not whatever else got the port.
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "IDPSSODescriptor") &&
				strings.Contains(string(body), `entityID="`+metadataURL+`"`) {
				t.Cleanup(func() {
					if t.Failed() {
						t.Logf("SimpleSAMLphp at %s:\n%s", addr, logs())
					}
				})
				return true, false, ""
			}
			last = fmt.Sprintf("%s answered %d:\n%s", metadataURL, resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return false, false, fmt.Sprintf("SimpleSAMLphp at %s not ready after %s (last: %s)\n%s", addr, simpleSAMLStartWait, last, logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// samlSelfSignedCert makes a fresh RSA key and a self-signed certificate valid from an hour
// ago for a day, both PEM-encoded.
func samlSelfSignedCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Roster e2e SimpleSAMLphp IdP", Organization: []string{"Roster tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		SignatureAlgorithm:    x509.SHA256WithRSA,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}

// writeSimpleSAMLConfig writes a complete SimpleSAMLphp configuration under root and returns
// the directory for SIMPLESAMLPHP_CONFIG_DIR. config.php is self-contained (it does not
// include the package's /etc/simplesamlphp/config.php, which pulls in
// /var/lib/simplesamlphp/secrets.inc.php), and every path setting points under root, so
// SimpleSAMLphp writes nothing elsewhere (the package defaults are /etc/ssl/certs,
// /var/log/simplesamlphp, /var/lib/simplesamlphp/data, /tmp/simplesaml, /etc/simplesamlphp/metadata).
func writeSimpleSAMLConfig(t *testing.T, root string, idp *simpleSAML, spEntityID, acsURL string, user samlUser, certPEM, keyPEM []byte) string {
	t.Helper()
	dirs := map[string]string{}
	for _, d := range []string{"config", "metadata", "cert", "log", "data", "tmp", "sessions"} {
		dirs[d] = filepath.Join(root, d)
		if err := os.MkdirAll(dirs[d], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{
		filepath.Join(dirs["cert"], "idp.crt"): certPEM,
		filepath.Join(dirs["cert"], "idp.key"): keyPEM,
	}

	files[filepath.Join(dirs["config"], "config.php")] = []byte(`<?php
$config = [
    'baseurlpath' => ` + phpStr(idp.URL+"/") + `,
    'certdir' => ` + phpStr(dirs["cert"]+"/") + `,
    'loggingdir' => ` + phpStr(dirs["log"]+"/") + `,
    'datadir' => ` + phpStr(dirs["data"]+"/") + `,
    'tempdir' => ` + phpStr(dirs["tmp"]) + `,
    'metadatadir' => ` + phpStr(dirs["metadata"]+"/") + `,
    'attributenamemapdir' => ` + phpStr(filepath.Join(dirs["config"], "attributemap")+"/") + `,
    'metadata.sources' => [['type' => 'flatfile', 'directory' => ` + phpStr(dirs["metadata"]+"/") + `]],
    'secretsalt' => ` + phpStr(randomHex(t, 32)) + `,
    'auth.adminpassword' => ` + phpStr(randomHex(t, 16)) + `,
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,
    'technicalcontact_name' => 'Roster e2e',
    'technicalcontact_email' => 'na@example.org',
    'timezone' => 'UTC',
    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'enable.adfs-idp' => false,
    'module.enable' => ['core' => true, 'saml' => true, 'exampleauth' => true, 'admin' => false],
    'logging.handler' => 'stderr',
    'logging.level' => SimpleSAML\Logger::INFO,
    'logging.processname' => 'simplesamlphp',
    'logging.logfile' => 'simplesamlphp.log',
    'statistics.out' => [],
    'showerrors' => true,
    'errorreporting' => false,
    'debug' => ['saml' => false, 'backtraces' => true, 'validatexml' => false],
    'production' => true,
    'template.cache' => false,
    'store.type' => 'phpsession',
    'session.phpsession.cookiename' => 'SimpleSAML',
    'session.phpsession.savepath' => ` + phpStr(dirs["sessions"]) + `,
    'session.phpsession.httponly' => true,
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'language.cookie.secure' => false,
    'language.cookie.samesite' => null,
    'authproc.idp' => [],
    'authproc.sp' => [],
];
`)

	// The user, without a login form. The NameID travels in an internal attribute that the
	// IdP turns into the NameID and removes before the attributes are sent (see authproc).
	var auth strings.Builder
	auth.WriteString("<?php\n$config = [\n    'static' => [\n        'exampleauth:StaticSource',\n")
	auth.WriteString("        " + phpStr(samlNameIDHolder) + " => [" + phpStr(user.NameID) + "],\n")
	names := make([]string, 0, len(user.Attributes))
	for name := range user.Attributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		values := make([]string, len(user.Attributes[name]))
		for i, v := range user.Attributes[name] {
			values[i] = phpStr(v)
		}
		auth.WriteString("        " + phpStr(name) + " => [" + strings.Join(values, ", ") + "],\n")
	}
	auth.WriteString("    ],\n];\n")
	files[filepath.Join(dirs["config"], "authsources.php")] = []byte(auth.String())

	files[filepath.Join(dirs["metadata"], "saml20-idp-hosted.php")] = []byte(`<?php
$metadata[` + phpStr(idp.EntityID) + `] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'static',
    'signature.algorithm' => ` + phpStr(samlRSASHA256) + `,
    'attributes.NameFormat' => ` + phpStr(samlAttrNameURI) + `,
    'NameIDFormat' => ` + phpStr(samlNameIDEmail) + `,
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'authproc' => [
        10 => ['class' => 'saml:AttributeNameID', 'attribute' => ` + phpStr(samlNameIDHolder) + `, 'Format' => ` + phpStr(samlNameIDEmail) + `],
        20 => ['class' => 'core:PHP', 'code' => ` + phpStr("unset($attributes['"+samlNameIDHolder+"']);") + `],
    ],
];
`)

	files[filepath.Join(dirs["metadata"], "saml20-sp-remote.php")] = []byte(`<?php
$metadata[` + phpStr(spEntityID) + `] = [
    'AssertionConsumerService' => [
        ['Binding' => ` + phpStr(samlBindingPOST) + `, 'Location' => ` + phpStr(acsURL) + `, 'index' => 0],
    ],
    'NameIDFormat' => ` + phpStr(samlNameIDEmail) + `,
    'attributes.NameFormat' => ` + phpStr(samlAttrNameURI) + `,
    'signature.algorithm' => ` + phpStr(samlRSASHA256) + `,
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'assertion.encryption' => false,
    'nameid.encryption' => false,
    // Roster may sign its AuthnRequests; they are accepted without checking the signature.
    'validate.authnrequest' => false,
    'redirect.validate' => false,
];
`)

	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dirs["config"], "attributemap"), 0o700); err != nil {
		t.Fatal(err)
	}
	return dirs["config"]
}

// phpStr is s as a PHP single-quoted string literal.
func phpStr(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
