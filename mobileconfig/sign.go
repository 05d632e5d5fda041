package mobileconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/smallstep/pkcs7"
)

// ErrNoSigner is returned by Sign for a certificate without a usable key.
var ErrNoSigner = errors.New("mobileconfig: certificate cannot sign")

// Sign wraps a profile in a CMS SignedData (RFC 5652 §5), DER, with the content
// attached and the certificate chain included, as iOS and macOS read signed profiles.
// The signature uses SHA-256 (the library's default is SHA-1) and the certificate's key,
// ECDSA or RSA; a TLS server certificate does.
//
// smallstep/pkcs7 is the maintained fork of the archived go.mozilla.org/pkcs7, used by
// the MDM servers that sign profiles (micromdm, nanomdm), with no dependencies.
func Sign(profile []byte, cert *tls.Certificate) ([]byte, error) {
	if cert == nil || len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return nil, ErrNoSigner
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("mobileconfig: signing certificate: %w", err)
		}
	}
	var chain []*x509.Certificate
	for _, der := range cert.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("mobileconfig: signing certificate chain: %w", err)
		}
		chain = append(chain, c)
	}
	sd, err := pkcs7.NewSignedData(profile)
	if err != nil {
		return nil, fmt.Errorf("mobileconfig: %w", err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(leaf, cert.PrivateKey, chain, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoSigner, err)
	}
	der, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("mobileconfig: %w", err)
	}
	return der, nil
}
